"""The local backend's endpoints: each one a detached supervisor keeping a `hubml serve` up on fixed ports.

    HUBML_HOME/endpoints/{name}/supervisor.log   what the supervisor did (restarts)
    HUBML_HOME/endpoints/{name}/serve.log        the server's own log
    HUBML_HOME/endpoints/{name}/ready.json       written by `hubml serve` once it answers

The record (store kind "endpoint") is written here, once, at deploy time; the
supervisor reports into its own document ("endpoint-process"). An endpoint's
state is read live: the supervisor's process, then TF Serving's status route.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from typing import Any

from hubml.backends.base import ENDPOINT_FAILED, ENDPOINT_PENDING, ENDPOINT_READY, endpoint_record
from hubml.backends.local.endpoint_supervisor import ENDPOINT_KIND, PROCESS_KIND, endpoint_folder
from hubml.backends.local.store import Store
from hubml.backends.local.supervisor import STOP_GRACE_SECONDS
from hubml.config import Settings
from hubml.processes import free_ports, supervisor_alive
from hubml.specs import DeploySpec

HOST = "127.0.0.1"
STATUS_TIMEOUT_SECONDS = 2.0
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through an http_proxy
START_GRACE_SECONDS = 30.0  # a record whose supervisor pid was never written is lost after this


class LocalEndpoints:
    """Deploy, look up and undeploy `hubml serve` endpoints on this machine."""

    def __init__(self, settings: Settings, store: Store):
        self.settings = settings
        self.home = settings.home
        self.store = store

    def deploy(self, spec: DeploySpec) -> dict[str, Any]:
        grpc_port, rest_port = free_ports(2)
        folder = endpoint_folder(self.home, spec.name)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        record = endpoint_record(spec, "local", rest_url=f"http://{HOST}:{rest_port}",
                                 grpc_target=f"{HOST}:{grpc_port}", pid=None)
        self.store.delete(PROCESS_KIND, spec.name)
        self.store.put(ENDPOINT_KIND, spec.name, record)
        with open(os.path.join(folder, "supervisor.log"), "ab") as log:
            environment = {**os.environ, **self.settings.as_environment()}
            process = subprocess.Popen(supervisor_command(self.home, spec.name), env=environment, stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                       close_fds=True)
        self.store.put(ENDPOINT_KIND, spec.name, {**record, "pid": process.pid})
        return self.endpoint(spec.name)

    def endpoint(self, name: str) -> dict[str, Any] | None:
        record = self.store.get(ENDPOINT_KIND, name)
        return self._with_state(record) if record else None

    def endpoints(self) -> list[dict[str, Any]]:
        return [self._with_state(record) for record in self.store.all(ENDPOINT_KIND)]

    def undeploy(self, name: str) -> None:
        """Stop the supervisor (which stops its server), then forget the endpoint."""
        pid = (self.store.get(ENDPOINT_KIND, name) or {}).get("pid")
        if pid and self._alive(pid, name):
            os.kill(pid, signal.SIGTERM)
            deadline = time.time() + STOP_GRACE_SECONDS + 5
            while time.time() < deadline and self._alive(pid, name):
                time.sleep(0.05)
            if self._alive(pid, name):
                os.killpg(pid, signal.SIGKILL)
        self.store.delete(ENDPOINT_KIND, name)
        self.store.delete(PROCESS_KIND, name)
        shutil.rmtree(endpoint_folder(self.home, name), ignore_errors=True)

    def _with_state(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record with its live state: supervisor gone or given up -> FAILED; serving -> READY."""
        process = self.store.get(PROCESS_KIND, record["name"]) or {}
        record = {**record, "restarts": process.get("restarts", 0), "reason": process.get("reason", "")}
        if process.get("failed"):
            return {**record, "state": ENDPOINT_FAILED}
        pid = record["pid"]
        if (pid and not self._alive(pid, record["name"])) or (
                not pid and time.time() - record["created_at"] > START_GRACE_SECONDS):
            return {**record, "state": ENDPOINT_FAILED, "reason": "the endpoint's supervisor process was lost"}
        return {**record, **serving_state(record["rest_url"], record["model"])}

    def _alive(self, pid: int, name: str) -> bool:
        return supervisor_alive(pid, "\0".join(supervisor_command(self.home, name)[1:]) + "\0")


def supervisor_command(home: str, name: str) -> list[str]:
    return [sys.executable, "-m", "hubml.backends.local.endpoint_supervisor", home, name]


def serving_state(rest_url: str, model: str) -> dict[str, Any]:
    """State and versions from TF Serving's status route: READY once a version is AVAILABLE, FAILED when every
    version ended with an error (the model does not load), else PENDING (loading, or not answering yet)."""
    try:
        with DIRECT.open(f"{rest_url}/v1/models/{model}", timeout=STATUS_TIMEOUT_SECONDS) as response:
            statuses = json.load(response).get("model_version_status", [])
    except (OSError, ValueError):  # refused, reset, timed out, an HTTP error, or not JSON: not serving yet
        return {"state": ENDPOINT_PENDING, "versions": []}
    versions = sorted(int(entry["version"]) for entry in statuses if entry.get("state") == "AVAILABLE")
    errors = [f"version {entry['version']}: {entry['status']['error_message']}" for entry in statuses
              if entry.get("state") == "END" and entry.get("status", {}).get("error_code", "OK") != "OK"]
    if versions:
        return {"state": ENDPOINT_READY, "versions": versions}
    if errors and len(errors) == len(statuses):
        return {"state": ENDPOINT_FAILED, "versions": [], "reason": "the model does not load: " + "; ".join(errors)}
    return {"state": ENDPOINT_PENDING, "versions": []}
