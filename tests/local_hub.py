"""A real JupyterHub from hub_config/ in local mode, on free loopback ports.

The hub tests (tests/hub/test_hub_local.py) and the browser tests (tests/extension/test_jupyterlab_browser.py)
both start one. A module of its own (on the path because tests/conftest.py sits beside it), since
`from conftest import ...` resolves to whichever test folder's conftest was imported first.
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import requests

from hubml.processes import free_ports
from process_helpers import alive, descendants
from wait_helpers import wait_for

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG = REPO_ROOT / "hub_config" / "jupyterhub_config.py"
PROXY = REPO_ROOT / "hub_config" / "node_modules" / ".bin" / "configurable-http-proxy"
JUPYTERHUB = Path(sys.executable).parent / "jupyterhub"
USER = "ada"
PASSWORD = "correct-horse-battery"
# A user's first spawn on two busy cores: the hub makes the home, starts jupyterhub-singleuser and the proxy
# route, and the server imports JupyterLab and hubml's server extension.
SPAWN_SECONDS = 90.0


def hub_answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/hub/api/", timeout=2).ok
    except requests.ConnectionError:
        return False


class LocalHub:
    """`jupyterhub -f hub_config/jupyterhub_config.py` with its data in `data`, the shared password PASSWORD
    and an admin API token; the servers it spawns inherit this process's environment as `make hub`'s do."""

    def __init__(self, data: Path):
        assert PROXY.exists(), f"{PROXY} is missing: run `make hub-deps`"
        self.data = data
        self.port, proxy_api_port, internal_port = free_ports(3)
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_hex(16)
        self.env = {
            **os.environ,
            "HUBML_HUB_MODE": "local",
            "HUBML_HUB_DATA": str(data),
            "HUBML_HUB_PORT": str(self.port),
            "HUBML_HUB_PROXY_API_PORT": str(proxy_api_port),
            "HUBML_HUB_INTERNAL_PORT": str(internal_port),
            "HUBML_HUB_PASSWORD": PASSWORD,
            "HUBML_HUB_ADMIN_TOKEN": self.token,
        }
        self.log = open(data / "hub.log", "wb")
        self.process = subprocess.Popen(
            [str(JUPYTERHUB), "-f", str(CONFIG)], cwd=data, env=self.env,
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_for(self.ready, 40, "the hub API")
        self.seen: set[int] = set()

    def ready(self) -> bool:
        assert self.process.poll() is None, f"hub exited early:\n{self.log_text()}"
        return hub_answers(self.url)

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"token {self.token}"}
        return requests.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)

    def home(self, user: str = USER) -> Path:
        """The user's home on the local hub; their HUBML_HOME is its `.hubml`."""
        return self.data / "users" / user

    def server_ready(self, user: str = USER) -> bool:
        return bool(self.api("GET", f"/hub/api/users/{user}").json()["servers"].get("", {}).get("ready"))

    def spawn(self, user: str = USER) -> None:
        """Start the user's server through the REST API, as an admin would, and wait until it is ready."""
        assert self.api("POST", f"/hub/api/users/{user}").status_code in (201, 409)  # 409: they exist
        started = self.api("POST", f"/hub/api/users/{user}/server")
        assert started.status_code in (201, 202), started.text
        wait_for(lambda: self.server_ready(user), SPAWN_SECONDS, f"{user}'s server\n{self.log_text()}")
        self.remember_processes()

    def remember_processes(self) -> None:
        self.seen |= descendants(self.process.pid) | {self.process.pid}

    def log_text(self) -> str:
        return (self.data / "hub.log").read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        """SIGTERM, as Ctrl-C or a service manager would: the hub stops its servers and the proxy."""
        self.remember_processes()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if not self.log.closed:
            self.log.close()

    def kill_leftovers(self) -> None:
        """After a failed test: never leave a stray server or kernel behind."""
        for pid in self.seen:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
