"""What the Kubernetes tests share besides fixtures: the test namespace and their polling wait.

A module of its own, since `from conftest import ...` resolves to whichever
test folder's conftest was imported first.
"""
from __future__ import annotations

from typing import Callable

import wait_helpers

NAMESPACE, USER = "hubml-alice", "alice"


def wait_for(condition: Callable[[], object], timeout: float = 10.0, what: str = "the condition") -> object:
    """`wait_helpers.wait_for`, polling often: the watches deliver changes asynchronously, within milliseconds."""
    return wait_helpers.wait_for(condition, timeout, what, interval=0.02)
