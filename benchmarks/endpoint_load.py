"""Load an endpoint with REST predict requests from a separate process and report latency percentiles.

    .venv/bin/python benchmarks/endpoint_load.py [--requests 10000] [--concurrency 32]
    .venv/bin/python benchmarks/endpoint_load.py --url http://HOST:8501/v1/models/NAME:predict

Without --url it deploys TF Serving's half_plus_two test model on the local
backend (a real `hubml serve` behind its supervisor, in a throwaway HUBML_HOME)
and undeploys it afterwards. The load generator is its own process (`--generate`,
threads with keep-alive connections, one request in flight per thread), so the
client's work does not share an interpreter with the caller. Prints a table and
a last line `errors=N p99_ms=X`. The reliability tests reuse `run_load` with a
smaller count and assert only that no request failed.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HALF_PLUS_TWO = REPO / "tests" / "fixtures" / "tf_serving_testdata" / "saved_model_half_plus_two_cpu"
BODY = {"instances": [1.0, 2.0, 5.0]}
MAX_ERRORS_KEPT = 5


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    answers: dict[str, int] = field(default_factory=dict)  # each distinct `predictions` JSON: how often
    first_errors: list[str] = field(default_factory=list)

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def run_load(url: str, requests: int = 0, seconds: float = 0.0, concurrency: int = 32,
             body: dict | None = None) -> LoadResult:
    """`requests` predicts (or as many as fit in `seconds`) at `concurrency`, sent from a separate process."""
    command = [sys.executable, __file__, "--generate", "--url", url, "--requests", str(requests),
               "--seconds", str(seconds), "--concurrency", str(concurrency), "--body", json.dumps(body or BODY)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return LoadResult(**json.loads(done.stdout))


def generate(url: str, requests: int, seconds: float, concurrency: int, body: bytes) -> LoadResult:
    """In the load process: `concurrency` threads, each one keep-alive connection, one request at a time."""
    target = urllib.parse.urlsplit(url)
    lock = threading.Lock()
    issued = [0]
    result = LoadResult(0, 0, 0.0, [])
    stop_at = time.monotonic() + seconds if seconds else None

    def take() -> bool:
        with lock:
            if (requests and issued[0] >= requests) or (stop_at and time.monotonic() >= stop_at):
                return False
            issued[0] += 1
            return True

    def record(latency: float, answer: str | None, error: str | None) -> None:
        with lock:
            result.requests += 1
            if error is None:
                result.latencies_ms.append(latency * 1000)
                result.answers[answer] = result.answers.get(answer, 0) + 1
            else:
                result.errors += 1
                if len(result.first_errors) < MAX_ERRORS_KEPT:
                    result.first_errors.append(error)

    def worker() -> None:
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        while take():
            start = time.perf_counter()
            try:
                connection.request("POST", target.path, body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                payload = response.read()
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}: {payload[:200]!r}")
                answer, error = json.dumps(json.loads(payload)["predictions"]), None
            except Exception as failure:  # every failure counts, whatever it is, and the worker goes on
                answer, error = None, f"{type(failure).__name__}: {failure}"
                connection.close()
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            record(time.perf_counter() - start, answer, error)
        connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    return result


def deploy_test_model(home: str) -> tuple[object, str]:
    """half_plus_two on the local backend in `home`; (client, predict URL)."""
    os.environ["HUBML_HOME"] = home
    os.environ.pop("HUBML_STORAGE", None)
    from hubml.client import Client

    shutil.copytree(HALF_PLUS_TWO / "00000123", Path(home) / "models-src" / "half_plus_two" / "1")
    client = Client(backend="local")
    endpoint = client.deploy(str(Path(home) / "models-src" / "half_plus_two"), name="load", timeout=180)
    return client, f"{endpoint.rest_url}/v1/models/{endpoint.model}:predict"


def print_table(result: LoadResult, concurrency: int) -> None:
    rate = result.requests / result.seconds if result.seconds else 0.0
    print(f"{'requests':>9}{'concurrency':>12}{'errors':>8}{'seconds':>9}{'req/s':>8}"
          f"{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}{'max ms':>8}")
    print(f"{result.requests:>9}{concurrency:>12}{result.errors:>8}{result.seconds:>9.2f}{rate:>8.0f}"
          f"{result.percentile(0.50):>8.1f}{result.percentile(0.90):>8.1f}{result.percentile(0.99):>8.1f}"
          f"{max(result.latencies_ms, default=float('nan')):>8.1f}")
    for error in result.first_errors:
        print(f"  error: {error}")
    print(f"errors={result.errors} p99_ms={result.percentile(0.99):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a TF Serving REST predict URL (default: deploy half_plus_two locally)")
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--seconds", type=float, default=0.0, help="instead of a count: send for this long")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--body", default=json.dumps(BODY), help="the predict request's JSON")
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)  # the load process itself
    args = parser.parse_args()
    if args.generate:
        result = generate(args.url, args.requests, args.seconds, args.concurrency, args.body.encode())
        print(json.dumps(result.__dict__))
        return
    if args.url:
        print_table(run_load(args.url, args.requests, args.seconds, args.concurrency, json.loads(args.body)),
                    args.concurrency)
        return
    with tempfile.TemporaryDirectory(prefix="hubml-load-") as home:
        client, url = deploy_test_model(home)
        try:
            run_load(url, requests=200, concurrency=args.concurrency)  # warm up: first calls trace the graph
            print_table(run_load(url, args.requests, args.seconds, args.concurrency, json.loads(args.body)),
                        args.concurrency)
        finally:
            client.undeploy("load")


if __name__ == "__main__":
    main()
