"""What the Kubernetes tests share besides fixtures: the test namespace and a polling wait.

A module of its own, since `from conftest import ...` resolves to whichever
test folder's conftest was imported first.
"""
from __future__ import annotations

import time
from typing import Callable

NAMESPACE, USER = "hubml-alice", "alice"


def wait_for(condition: Callable[[], object], timeout: float = 10.0, what: str = "the condition") -> object:
    """Poll until `condition()` is truthy; the watches deliver changes asynchronously."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
