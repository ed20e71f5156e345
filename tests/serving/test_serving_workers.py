"""`hubml serve --rest_api_workers N`: N processes answering REST on one port."""
from __future__ import annotations

import json
import os
import signal
import urllib.request
from pathlib import Path

import grpc
from tensorflow_serving.apis import model_management_pb2, model_service_pb2_grpc
from tensorflow_serving.config import model_server_config_pb2
from wait_helpers import wait_for

DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def predict(server, model: str, value: float) -> tuple[int, dict]:
    """One predict on a fresh connection, so the kernel may hand it to any worker."""
    body = json.dumps({"instances": [value]}).encode()
    try:
        with DIRECT.open(urllib.request.Request(f"{server.rest_url}/v1/models/{model}:predict", data=body),
                         timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def workers_of(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"hubml.serving.workers" in command:
            children.append(int(entry.name))
    return children


def metrics_folder(worker: int) -> Path:
    """The runtime folder is the worker's first argument (python -m hubml.serving.workers RUNTIME INDEX)."""
    return Path(Path(f"/proc/{worker}/cmdline").read_bytes().split(b"\0")[3].decode()) / "metrics"


def gone(pid: int) -> bool:
    """Reaped, not merely a zombie: a killed leader turns Z while its other threads, and the
    listening socket they share, are still being torn down."""
    return not Path(f"/proc/{pid}").exists()


def test_workers_share_the_port_sum_their_metrics_and_are_restarted(start_server, testdata):
    server = start_server(f"--model_base_path={testdata / 'saved_model_half_plus_two_cpu'}",
                          "--model_name=half_plus_two", "--rest_api_workers=2")
    primary = server.process.pid
    worker, = workers_of(primary)
    assert [predict(server, "half_plus_two", 1.0) for _ in range(60)] == [(200, {"predictions": [2.5]})] * 60

    # each process keeps its own counter file; the page any of them serves sums both
    assert {path.name for path in metrics_folder(worker).glob("counter_*.db")} == {
        f"counter_{primary}.db", f"counter_{worker}.db"}
    with DIRECT.open(server.rest_url + "/monitoring/prometheus/metrics", timeout=30) as response:
        page = response.read().decode()
    assert ':tensorflow:serving:request_count_total{API="predict",entrypoint="REST",model_name="half_plus_two",' \
           'status="OK"} 60.0' in page

    os.kill(worker, signal.SIGKILL)  # connections waiting in its accept queue are reset with it
    wait_for(lambda: gone(worker), 30, "the killed worker to exit")
    assert predict(server, "half_plus_two", 2.0) == (200, {"predictions": [3.0]})  # the first process answers
    replacement = wait_for(lambda: [pid for pid in workers_of(primary) if pid != worker], 90, "a new worker")
    assert len(replacement) == 1

    server.stop()
    wait_for(lambda: gone(replacement[0]), 30, "the worker to stop with the server")


def test_a_config_reload_reaches_every_worker(start_server, testdata):
    server = start_server(f"--model_base_path={testdata / 'saved_model_half_plus_two_cpu'}", "--model_name=first",
                          "--rest_api_workers=2", "--file_system_poll_wait_seconds=0")
    config = model_server_config_pb2.ModelServerConfig()
    config.model_config_list.config.add(name="second", base_path=str(testdata / "saved_model_half_plus_three"),
                                        model_platform="tensorflow")
    with grpc.insecure_channel(server.grpc_target) as channel:
        model_service_pb2_grpc.ModelServiceStub(channel).HandleReloadConfigRequest(
            model_management_pb2.ReloadConfigRequest(config=config), timeout=60)
    # the worker reloads after a SIGHUP; once it has, every connection finds the new model list
    wait_for(lambda: all(predict(server, "second", 1.0) == (200, {"predictions": [3.5]}) for _ in range(20)),
             90, "both processes to serve the new config")
    assert all(predict(server, "first", 1.0)[0] == 404 for _ in range(20))
