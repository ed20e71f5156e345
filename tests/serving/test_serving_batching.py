"""Dynamic batching: 32 concurrent clients with mixed request sizes each get their own rows back."""
from __future__ import annotations

import re
import threading
import urllib.request

import numpy as np
import pytest

from hubml.serving.client import PredictClient

CLIENTS = 32


@pytest.fixture(scope="module")
def batching_server(start_module_server, testdata, tmp_path_factory):
    parameters = tmp_path_factory.mktemp("batching") / "batching.config"
    # A long timeout so the 32 clients' requests reliably meet in shared batches.
    parameters.write_text("max_batch_size { value: 16 }\nbatch_timeout_micros { value: 50000 }\n"
                          "num_batch_threads { value: 2 }\n")
    # Two gRPC pool threads: a predict waiting in the batcher must not hold one.
    return start_module_server(f"--model_base_path={testdata / 'saved_model_half_plus_two_cpu'}", "--model_name=m",
                               "--enable_batching", f"--batching_parameters_file={parameters}",
                               "--grpc_max_threads=2")


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_concurrent_mixed_size_requests_are_batched_and_split_back(batching_server, protocol):
    client = PredictClient(batching_server.grpc_target, batching_server.rest_url, "m")
    client.predict([[0.0]], protocol=protocol)  # metadata cached before the clients start together
    before = _batch_size_histogram(batching_server.rest_url)
    start = threading.Barrier(CLIENTS)
    results: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def send(index: int) -> None:
        rows = 1 + index % 5  # 1..5 rows, so batches mix request sizes
        values = np.arange(rows, dtype=np.float32).reshape(rows, 1) + 100 * index
        start.wait()
        for _ in range(3):
            results[index] = (values, client.predict(values, protocol=protocol))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results) == list(range(CLIENTS))
    for values, answer in results.values():
        np.testing.assert_array_equal(answer, values / 2 + 2)
    after = _batch_size_histogram(batching_server.rest_url)
    batches, rows = after["count"] - before["count"], after["sum"] - before["sum"]
    assert rows == 3 * sum(1 + i % 5 for i in range(CLIENTS))
    assert rows / batches > 5  # requests were merged (each sends 1-5 rows)
    assert batches * 2 < 3 * CLIENTS  # more than two requests per batch, gRPC's two threads notwithstanding


def test_requests_larger_than_a_batch_and_unbatchable_shapes_still_answer(batching_server):
    client = PredictClient(batching_server.grpc_target, batching_server.rest_url, "m")
    big = np.arange(40, dtype=np.float32).reshape(40, 1)
    np.testing.assert_array_equal(client.predict(big), big / 2 + 2)  # over max_batch_size 16: runs alone
    np.testing.assert_array_equal(client.predict([1.0, 2.0], protocol="rest"), [2.5, 3.0])  # rank 1: not batched


def _batch_size_histogram(rest_url: str) -> dict[str, float]:
    with urllib.request.urlopen(rest_url + "/monitoring/prometheus/metrics", timeout=10) as response:
        page = response.read().decode()
    found = {kind: float(value) for kind, value in
             re.findall(r"^:tensorflow:serving:batching_session:processed_batch_size_(count|sum) (\S+)$", page, re.M)}
    return found
