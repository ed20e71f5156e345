"""The hub tests import `hub_config` from the repository root (see hub_testing.py)."""
import hub_testing  # noqa: F401  (puts the repository root on sys.path before collection)
