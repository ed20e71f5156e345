"""An endpoint on the local backend under faults and load: a real `hubml serve` behind its supervisor,
called over real sockets by the load generator of benchmarks/endpoint_load.py (a separate process).

One endpoint serves the whole module (each server start imports TensorFlow); the killing test runs last.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from wait_helpers import wait_for

from hubml.client import Client
from hubml.serving.metrics import METRICS_PATH

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
from endpoint_load import BODY, run_load  # noqa: E402

from testdata import TF_SERVING_TESTDATA as TESTDATA  # noqa: E402
HALF_PLUS_TWO = TESTDATA / "saved_model_half_plus_two_cpu" / "00000123"
HALF_PLUS_THREE = TESTDATA / "saved_model_half_plus_three" / "00000123"
VERSION_1 = json.dumps([x / 2 + 2 for x in BODY["instances"]])
VERSION_2 = json.dumps([x / 2 + 3 for x in BODY["instances"]])


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(client, endpoint, model folder): version 1 of `halves` served on the local backend."""
    folder = tmp_path_factory.mktemp("endpoint-faults")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HUBML_HOME", str(folder / "hubml-home"))
        for name in ("HUBML_STORAGE", "HUBML_BACKEND"):
            patch.delenv(name, raising=False)
        base = folder / "halves"
        shutil.copytree(HALF_PLUS_TWO, base / "1")
        client = Client(backend="local")
        endpoint = client.deploy(str(base), name="halves", timeout=180)
        try:
            yield client, endpoint, base
        finally:
            client.undeploy("halves")


def predicts_answered(endpoint) -> float:
    """The server's own count of successful predicts, from its Prometheus page (TF Serving's metric names)."""
    with urllib.request.urlopen(f"{endpoint.rest_url}{METRICS_PATH}", timeout=10) as response:
        page = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in page.splitlines()
               if line.startswith(":tensorflow:serving:request_count_total{") and 'API="predict"' in line
               and 'status="OK"' in line)


def test_a_new_model_version_appears_under_sustained_load_with_zero_failed_requests(served):
    client, endpoint, base = served
    # The count is the server's since its start: the module's other tests may already have added to it,
    # and the new version must come only once this load has had version 1's answers.
    answered_before = predicts_answered(endpoint)
    outcome = {}
    load = threading.Thread(target=lambda: outcome.update(
        result=run_load(endpoint.predict_url, seconds=15, concurrency=8)))
    load.start()
    wait_for(lambda: predicts_answered(endpoint) >= answered_before + 100, timeout=60,
             what="version 1 answering the load")
    incoming = base / ".incoming"  # written whole, then renamed: a server never sees half a version
    shutil.copytree(HALF_PLUS_THREE, incoming)
    incoming.rename(base / "2")
    wait_for(lambda: endpoint.versions == [2], timeout=60, what="version 2 served alone")
    load.join()
    result = outcome["result"]
    assert result.errors == 0, result.first_errors
    assert set(result.answers) == {VERSION_1, VERSION_2}, "both versions answered while the load ran"
    assert result.requests > 100


def test_1000_requests_at_concurrency_32_all_succeed(served):
    client, endpoint, base = served
    (version,) = endpoint.versions  # 1, or 2 once the version test above has run: tests run in any order
    result = run_load(endpoint.predict_url, requests=1000, concurrency=32)
    assert (result.requests, result.errors) == (1000, 0), result.first_errors
    assert set(result.answers) == {{1: VERSION_1, 2: VERSION_2}[version]}


def test_a_killed_server_is_restarted_on_the_same_address(served):
    client, endpoint, base = served
    addresses = (endpoint.rest_url, endpoint.grpc_target)
    server = client.backend.store.get("endpoint-process", "halves")["serve_pid"]
    os.kill(server, signal.SIGKILL)
    wait_for(lambda: endpoint.record["restarts"] == 1 and endpoint.state == "READY", timeout=120,
             what="the server to be restarted and ready", interval=0.25)
    assert (endpoint.rest_url, endpoint.grpc_target) == addresses
    assert client.backend.store.get("endpoint-process", "halves")["serve_pid"] != server
    result = run_load(endpoint.predict_url, requests=200, concurrency=32)
    assert (result.requests, result.errors) == (200, 0), result.first_errors
