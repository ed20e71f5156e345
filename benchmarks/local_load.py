"""Many small Keras jobs submitted at once to the local backend, with the default requests (jobs queue by the
machine's capacity: one replica per CPU) against the old behaviour (`default_cpu = 0`, `default_memory = 0`:
every job starts at once), in the same run.

    make bench-local-load                       # 100 jobs each way
    .venv/bin/python benchmarks/local_load.py [--jobs N]

For each way: the total wall time (first submit to last job final), the p50 and p90 of a job's duration
(RUNNING to final) and of its turnaround (submitted to final), and the peak memory in use on the whole
machine (MemTotal - MemAvailable, sampled every 0.2 s), with the baseline before the jobs. Should memory
available fall under `--memory-floor`, the run kills its jobs and says so: the machine is shared, and
the old behaviour is what runs it out of memory.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from job_latency import percentile  # noqa: E402 (the one percentile the benchmarks' tables use)

KERAS_JOB = """
import numpy as np
import keras
x = np.random.default_rng(0).random((512, 8), dtype="float32")
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
model.compile("adam", "mse")
model.fit(x, x.sum(axis=1), epochs=2, batch_size=64, verbose=0)
print("trained", flush=True)
"""
SAMPLE_SECONDS = 0.2
GiB = 2**30


def memory_in_use() -> int:
    with open("/proc/meminfo") as handle:
        fields = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in handle}
    return fields["MemTotal"] - fields["MemAvailable"]


def memory_available() -> int:
    with open("/proc/meminfo") as handle:
        return next(int(line.split()[1]) * 1024 for line in handle if line.startswith("MemAvailable:"))


@dataclass
class MemorySampler:
    """The peak of the machine's memory in use while it runs; `exhausted` once available fell under `floor`."""

    floor: int
    peak: int = 0
    exhausted: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.peak = max(self.peak, memory_in_use())
            if memory_available() < self.floor:
                self.exhausted.set()

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def stop_at_once(client, handles: list) -> None:
    """SIGKILL every job's supervisor and replicas (one process group each). A cancel would wait for each
    supervisor in turn, and with memory nearly gone and the CPUs swamped, supervisors barely run."""
    for handle in handles:
        pid = client.backend.store.job(handle.id)["supervisor_pid"]
        if pid and not handle.done:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def run(label: str, jobs: int, defaults: dict[str, str], floor: int) -> tuple:
    from hubml.client import Client

    home = tempfile.mkdtemp(prefix="hubml-local-load-")
    client = Client(home=home, **defaults)
    baseline = memory_in_use()
    sampler = MemorySampler(floor)
    started = time.perf_counter()
    handles = [client.train(KERAS_JOB, name=f"load-{number}") for number in range(jobs)]
    while not all(handle.done for handle in handles):
        if sampler.exhausted.is_set():
            stop_at_once(client, handles)
            break
        time.sleep(0.5)
    wall = time.perf_counter() - started
    peak = sampler.stop()
    records = [handle.record for handle in handles]
    shutil.rmtree(home, ignore_errors=True)  # every job is final: its supervisor has written its last word
    succeeded = [record for record in records if record.state == "SUCCEEDED"]
    durations = [record.duration for record in succeeded]
    turnarounds = [record.finished_at - record.submitted_at for record in succeeded]
    outcome = f"{len(succeeded)}/{jobs}" + (" (stopped: memory nearly exhausted)" if sampler.exhausted.is_set()
                                            else "")
    return (label, outcome, f"{wall:.0f}", *(f"{percentile(values, q):.1f}" if values else "-"
                                             for values in (durations, turnarounds) for q in (0.5, 0.9)),
            f"{baseline / GiB:.1f}", f"{peak / GiB:.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100, help="jobs submitted at once, each way (default 100)")
    parser.add_argument("--memory-floor", default=4.0, type=float,
                        help="GiB of available memory under which a run kills its jobs (default 4)")
    args = parser.parse_args()
    from hubml.formatting import table

    floor = int(args.memory_floor * GiB)
    rows = [run("default requests (1 CPU, 2Gi each)", args.jobs, {}, floor),
            run("no defaults (0: the old behaviour)", args.jobs, {"default_cpu": 0.0, "default_memory": "0"}, floor)]
    print(f"{args.jobs} small Keras jobs submitted at once, on {os.cpu_count()} CPUs and "
          f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / GiB:.1f} GiB")
    print(table(["MODE", "SUCCEEDED", "WALL s", "RUN p50 s", "RUN p90 s", "TURNAROUND p50 s",
                 "TURNAROUND p90 s", "MEMORY BEFORE GiB", "PEAK MEMORY GiB"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
