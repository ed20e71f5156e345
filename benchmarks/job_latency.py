"""How long a small job takes to start: submit → Running and submit → first log line, on the real test
cluster (`make cluster`) against the local backend in the same run.

    make bench-jobs                                   # starts the cluster if needed, then runs this
    .venv/bin/python benchmarks/job_latency.py [--jobs N]

Each job prints one line and sleeps a few seconds, so that RUNNING can be seen before it ends. The
Kubernetes rows act as a notebook that sourced .cluster/env (the developer's namespace, its LimitRange
defaults); both rows time `Client.train` to the first RUNNING state and to the first line of the cell's
own output, read through `Job.logs(follow=True)`. Prints a table of p50 and p90, and a last line
`k8s_running_p50_s=… k8s_first_log_p50_s=… local_running_p50_s=… local_first_log_p50_s=…`.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CELL = "print('first line', flush=True)\nimport time\ntime.sleep(4)\n"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def time_one(client) -> tuple[float, float]:
    """(seconds to RUNNING, seconds to the first line the cell printed)."""
    started = time.perf_counter()
    job = client.train(CELL, name="latency")
    first_line: list[float] = []

    def follow() -> None:
        for line in job.logs(follow=True):
            if line.text == "first line":
                first_line.append(time.perf_counter() - started)
                return

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    while client.job(job.id).state not in ("RUNNING", "SUCCEEDED", "FAILED"):
        time.sleep(0.02)
    running = time.perf_counter() - started
    follower.join(timeout=300)
    job.wait(timeout=300)
    if not first_line:
        raise RuntimeError(f"{job.id}: no first line ({job.state})")
    return running, first_line[0]


def measure(client, jobs: int) -> tuple[list[float], list[float]]:
    time_one(client)  # warm: the first job pays for imports and, on the cluster, image layers in page cache
    timings = [time_one(client) for _ in range(jobs)]
    return [running for running, _ in timings], [first for _, first in timings]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from cluster import lifecycle

    from hubml.client import Client

    cluster = lifecycle.up(verbose=False)
    results = {}
    with tempfile.TemporaryDirectory() as home:
        os.environ["HUBML_HOME"] = home
        local = Client("local")
        results["local"] = measure(local, args.jobs)
        os.environ.update(cluster.environment)
        kubernetes = Client("kubernetes")
        results["k8s"] = measure(kubernetes, args.jobs)
        kubernetes.backend.close()
    print(f"\n{args.jobs} small jobs each, one after another (seconds)")
    print(f"{'backend':<12}{'running p50':>13}{'running p90':>13}{'first log p50':>15}{'first log p90':>15}")
    for name, (running, first) in sorted(results.items()):
        print(f"{name:<12}{percentile(running, 0.5):>13.2f}{percentile(running, 0.9):>13.2f}"
              f"{percentile(first, 0.5):>15.2f}{percentile(first, 0.9):>15.2f}")
    print(" ".join(f"{name}_{what}_p50_s={percentile(values, 0.5):.2f}"
                   for name, (running, first) in sorted(results.items()) for what, values in (("running", running),
                                                                                      ("first_log", first))))


if __name__ == "__main__":
    main()
