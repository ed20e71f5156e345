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


class HubAPI:
    """JupyterHub's REST API with an admin service's token, as automation drives it; `server()` reaches a
    user's server through the hub's proxy with the same token."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token

    def request(self, method: str, path: str, **options):
        import requests

        return requests.request(method, f"{self.url}/hub/api/{path}", timeout=30,
                                headers={"Authorization": f"token {self.token}"}, **options)

    def server(self, user: str, path: str, method: str = "GET", **options):
        import requests

        return requests.request(method, f"{self.url}/user/{user}/{path}", timeout=30,
                                headers={"Authorization": f"token {self.token}"}, **options)

    def user(self, name: str) -> dict:
        response = self.request("GET", f"users/{name}")
        response.raise_for_status()
        return response.json()

    def start(self, name: str, options: dict, timeout: float) -> None:
        """Create the user if new, start their server with `options`, and wait until the hub calls it ready."""
        created = self.request("POST", f"users/{name}")
        assert created.status_code in (201, 409), created.text
        started = self.request("POST", f"users/{name}/server", json=options)
        assert started.status_code in (201, 202), started.text
        self.wait(name, lambda server: server and server.get("ready"), timeout, "the server ready")

    def stop(self, name: str, timeout: float) -> None:
        stopped = self.request("DELETE", f"users/{name}/server")
        assert stopped.status_code in (202, 204), stopped.text
        self.wait(name, lambda server: server is None, timeout, "the server stopped")

    def wait(self, name: str, condition, timeout: float, what: str) -> None:
        import time

        deadline = time.monotonic() + timeout
        while True:
            user = self.user(name)
            if condition(user["servers"].get("")) and user["pending"] is None:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what} of {name}; last seen: {user}")
            time.sleep(0.25)
