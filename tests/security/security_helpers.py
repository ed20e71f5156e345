"""What the security tests share: where the repository and fixtures are, users' Jupyter servers, stopping.

A module of its own (not conftest.py): every test folder has a conftest.py, and
`from conftest import ...` would pick whichever was imported first.
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from hubml.processes import free_ports

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `hub_config` is a folder of the repo, not an installed package

JUPYTER_SERVER = Path(sys.executable).parent / "jupyter-server"
HALF_PLUS_TWO = FIXTURES / "tf_serving_testdata" / "saved_model_half_plus_two_cpu"
MAX_BODY_BYTES = 65536


def wait_until_answering(url: str, process: subprocess.Popen, log: Path, timeout: float = 120, **kwargs) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if requests.get(url, timeout=2, **kwargs).status_code < 500:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"{url} did not answer:\n{log.read_text(errors='replace')[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@dataclass
class UserServer:
    """One user's single-user Jupyter server: own HUBML_HOME, own token, the hubml extension enabled."""

    name: str
    home: Path
    url: str
    token: str
    process: subprocess.Popen

    def api(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = {"Authorization": f"token {token or self.token}"}
        return requests.request(method, f"{self.url}/hubml/api/{path}", headers=headers, timeout=60, **kwargs)

    @property
    def environment(self) -> dict[str, str]:
        return {"HUBML_HOME": str(self.home / ".hubml"), "HUBML_USER": self.name, "HUBML_BACKEND": "local"}


def start_user_server(name: str, folder: Path) -> UserServer:
    """As the local hub starts one: a home prepared by hub_config's own code, HUBML_HOME inside it."""
    from hub_config import local_home

    home = local_home.user_home(folder, name)
    local_home.prepare_home(home)
    (port,), token = free_ports(1), secrets.token_hex(16)
    environment = {**os.environ, "HOME": str(home), "HUBML_HOME": str(local_home.hubml_home(home)), "HUBML_USER": name,
                   "HUBML_BACKEND": "local", "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
                   "JUPYTER_RUNTIME_DIR": str(home / ".runtime")}
    environment.pop("HUBML_STORAGE", None)
    log = home / "server.log"
    command = [str(JUPYTER_SERVER), f"--port={port}", "--ip=127.0.0.1", "--no-browser", f"--ServerApp.root_dir={home}",
               f"--IdentityProvider.token={token}", "--ServerApp.jpserver_extensions={'hubml.extension': True}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    with open(log, "wb") as output:
        process = subprocess.Popen(command, env=environment, stdout=output, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    server = UserServer(name, home, f"http://127.0.0.1:{port}", token, process)
    wait_until_answering(f"{server.url}/api/status", process, log, headers={"Authorization": f"token {token}"})
    return server
