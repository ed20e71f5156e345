"""What the security tests share besides fixtures: where things are, free ports.

A module of its own (not conftest.py): every test folder has a conftest.py, and
`from conftest import ...` would pick whichever was imported first.
"""
from __future__ import annotations

import socket
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO.parent / "shared" / "fixtures"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `hub_config` is a folder of the repo, not an installed package


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
