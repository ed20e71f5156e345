"""Fixtures for the security tests: two users' Jupyter servers with the hubml server extension, and a
`hubml serve` to send malformed requests to. Real processes on free loopback ports, stopped at teardown."""
from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass

import pytest
from security_helpers import HALF_PLUS_TWO, MAX_BODY_BYTES, start_user_server, stop, wait_until_answering

from hubml.processes import free_ports


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
    grpc_port, rest_port = free_ports(2)
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
