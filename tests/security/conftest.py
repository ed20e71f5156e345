"""Fixtures for the security tests: two users' Jupyter servers with the hubml server extension, and a
`hubml serve` to send malformed requests to. Real processes on free loopback ports, stopped at teardown."""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from security_helpers import FIXTURES, free_port

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
    port, token = free_port(), secrets.token_hex(16)
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


@pytest.fixture(scope="module")
def user_servers(tmp_path_factory):
    """{'alice': UserServer, 'bob': UserServer}, each with nothing in common but the machine."""
    folder = tmp_path_factory.mktemp("users")
    servers = {}
    try:
        for name in ("alice", "bob"):
            servers[name] = start_user_server(name, folder)
        yield servers
    finally:
        for server in servers.values():
            stop(server.process)


@dataclass
class ServeProcess:
    rest_url: str
    grpc_target: str


@pytest.fixture(scope="module")
def serve_process(tmp_path_factory):
    """`hubml serve` with half_plus_two and a small body limit."""
    folder = tmp_path_factory.mktemp("serve")
    shutil.copytree(HALF_PLUS_TWO / "00000123", folder / "half_plus_two" / "1")
    grpc_port, rest_port = free_port(), free_port()
    log = folder / "serve.log"
    command = [sys.executable, "-c", "import sys; from hubml.cli import main; sys.exit(main())", "serve",
               f"--port={grpc_port}", f"--rest_api_port={rest_port}", "--model_name=half_plus_two",
               f"--model_base_path={folder / 'half_plus_two'}", f"--rest_api_max_body_bytes={MAX_BODY_BYTES}"]
    with open(log, "wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    rest_url = f"http://127.0.0.1:{rest_port}"
    try:
        wait_until_answering(f"{rest_url}/v1/models/half_plus_two", process, log)
        yield ServeProcess(rest_url, f"127.0.0.1:{grpc_port}")
    finally:
        stop(process)
