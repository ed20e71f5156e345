"""Helpers the hub tests share: where the repository is, free ports.

A module of its own (not conftest.py) because every test folder has a
conftest.py, and `from conftest import ...` would pick whichever came first.
"""
from __future__ import annotations

import socket
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # `hub_config` is a folder of the repo, not an installed package


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

