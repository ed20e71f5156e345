"""Polling until a condition holds: the one wait every test folder shares.

A module of its own (on the path because tests/conftest.py sits beside it),
since `from conftest import ...` resolves to whichever test folder's conftest
was imported first.
"""
from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll until `condition()` is truthy and return it; an AssertionError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
