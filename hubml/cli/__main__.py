"""`python -m hubml.cli`, the same as the `hubml` command."""
import sys

from hubml.cli import main

sys.exit(main())
