"""Real `hubml serve` processes on free loopback ports, and TF Serving's test models."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testdata import TF_SERVING_TESTDATA as TESTDATA
HALF_PLUS_TWO = TESTDATA / "saved_model_half_plus_two_cpu"
HALF_PLUS_TWO_TF2 = TESTDATA / "saved_model_half_plus_two_tf2_cpu"
HALF_PLUS_THREE = TESTDATA / "saved_model_half_plus_three"
COUNTER = TESTDATA / "saved_model_counter"
STARTUP_SECONDS = 90


def unused_port() -> int:
    """A loopback port nobody listens on right now (the server binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServeProcess:
    """A `hubml serve` subprocess; `rest_url` and `grpc_target` once it printed its ready line."""

    def __init__(self, args: list[str], log_path: Path, env: dict | None = None):
        self.grpc_port, self.rest_port = unused_port(), unused_port()
        self.grpc_target = f"127.0.0.1:{self.grpc_port}"
        self.rest_url = f"http://127.0.0.1:{self.rest_port}"
        self.log_path = log_path
        command = [sys.executable, "-c", "import sys; from hubml.cli import main; sys.exit(main())", "serve",
                   f"--port={self.grpc_port}", f"--rest_api_port={self.rest_port}", *args]
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT,
                                        env={**os.environ, **(env or {})}, start_new_session=True)

    def wait_ready(self) -> ServeProcess:
        deadline = time.time() + STARTUP_SECONDS
        while time.time() < deadline:
            if b"hubml serve: ready" in self.log_path.read_bytes():
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"hubml serve did not become ready:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()


@pytest.fixture(scope="session")
def testdata() -> Path:
    return TESTDATA


def _server_starter(folder: Path):
    """A function starting servers with given flags, and the list to stop them from."""
    started: list[ServeProcess] = []

    def start(*args: str, env: dict | None = None) -> ServeProcess:
        server = ServeProcess(list(args), folder / f"serve-{len(started)}.log", env)
        started.append(server)
        return server.wait_ready()

    return start, started


@pytest.fixture
def start_server(tmp_path):
    """Start servers with given flags; every one is stopped at teardown."""
    start, started = _server_starter(tmp_path)
    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def start_module_server(tmp_path_factory):
    """`start_server` for servers a whole test module shares."""
    start, started = _server_starter(tmp_path_factory.mktemp("module-servers"))
    yield start
    for server in started:
        server.stop()


MODEL_CONFIG = """
model_config_list {
  config { name: "half_plus_two" base_path: "%(half_plus_two)s" model_platform: "tensorflow" }
  config { name: "half_plus_two_tf2" base_path: "%(half_plus_two_tf2)s" model_platform: "tensorflow" }
  config { name: "half_plus_three" base_path: "%(half_plus_three)s" model_platform: "tensorflow" }
  config { name: "counter" base_path: "%(counter)s" model_platform: "tensorflow" }
  config {
    name: "labelled"
    base_path: "%(labelled)s"
    model_platform: "tensorflow"
    model_version_policy { specific { versions: 1 versions: 2 } }
    version_labels { key: "stable" value: 1 }
    version_labels { key: "canary" value: 2 }
  }
}
"""


@pytest.fixture(scope="session")
def model_server(tmp_path_factory):
    """One server with TF Serving's test models and a two-version model with labels."""
    folder = tmp_path_factory.mktemp("serving")
    labelled = folder / "labelled"
    shutil.copytree(HALF_PLUS_TWO / "00000123", labelled / "1")
    shutil.copytree(HALF_PLUS_THREE / "00000123", labelled / "2")
    shutil.copytree(HALF_PLUS_TWO / "00000123", labelled / "3")  # on disk, but not in the policy
    config = folder / "models.config"
    config.write_text(MODEL_CONFIG % {
        "half_plus_two": HALF_PLUS_TWO, "half_plus_two_tf2": HALF_PLUS_TWO_TF2, "half_plus_three": HALF_PLUS_THREE,
        "counter": COUNTER, "labelled": labelled})
    server = ServeProcess([f"--model_config_file={config}", "--rest_api_max_body_bytes=65536"],
                          folder / "serve.log")
    try:
        yield server.wait_ready()
    finally:
        server.stop()
