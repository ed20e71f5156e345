"""Asking a real TensorBoard over HTTP what it shows."""
from __future__ import annotations

import json
import time
import urllib.request


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def wait_for_json(url: str, condition, timeout: float = 30.0) -> object:
    """TensorBoard loads events in the background: ask until they show."""
    deadline = time.time() + timeout
    while True:
        value = get_json(url)
        if condition(value) or time.time() > deadline:
            return value
        time.sleep(0.5)
