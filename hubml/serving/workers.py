"""REST workers: `hubml serve --rest_api_workers N` answers REST from N processes on one port.

One Python process tops out where its event loop thread holds the GIL for
HTTP, JSON and the hand-off to the model (about 7,000 batched predicts a
second on the 2-core VM; the README's Performance section). As gunicorn's
and KServe's workers do, N processes then share the REST port, here through
SO_REUSEPORT so the kernel spreads connections over them. Each worker holds
its own copy of the models, batcher and version polling; the first process
also serves gRPC and the ModelService.

    {runtime}/worker.json         what every worker serves (ServeOptions, as JSON)
    {runtime}/model_config.txt    the ModelServerConfig, rewritten on a gRPC config reload (then SIGHUP)
    {runtime}/ready-{n}.json      written by worker n (1, 2, ...; the first process is 0) once it answers
    {runtime}/metrics/            prometheus_client's multiprocess files: the metrics page sums all workers

Workers die with the first process (PDEATHSIG) and are restarted when they
exit on their own.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from google.protobuf import text_format

from hubml.exceptions import ServingError
from hubml.processes import die_with_parent
from hubml.serving import prepare_server_process

log = logging.getLogger(__name__)

METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
READY_TIMEOUT_SECONDS = 600.0
RESTART_DELAY_SECONDS = 1.0


def prepare_runtime_dir(count: int) -> str | None:
    """With several workers, the folder they meet in, its metrics folder named in the environment.

    prometheus_client picks its value storage when imported, so this runs
    before `hubml.serving.metrics` is; workers inherit the variable.
    """
    if count < 2:
        return None
    folder = tempfile.mkdtemp(prefix="hubml-serve-")
    os.environ[METRICS_DIR_VARIABLE] = os.path.join(folder, "metrics")
    os.makedirs(os.environ[METRICS_DIR_VARIABLE])
    return folder


class RestWorkers:
    """Starts, restarts, reconfigures and stops the extra REST processes of one server."""

    def __init__(self, options, runtime: str):
        self.options, self.runtime = options, Path(runtime)
        self.count = options.rest_workers - 1
        self._processes: list[subprocess.Popen | None] = [None] * self.count
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="hubml-rest-workers", daemon=True)

    def start(self) -> None:
        self._write_config(self.options.model_config)
        worker = {field.name: getattr(self.options, field.name) for field in dataclasses.fields(self.options)}
        worker.update(model_config=None, batching=dataclasses.asdict(self.options.batching) if self.options.batching
                      else None, grpc_port=None, ready_file=None, rest_workers=1, reuse_port=True)
        (self.runtime / "worker.json").write_text(json.dumps(worker))
        for index in range(self.count):
            self._processes[index] = self._spawn(index)

    def wait_ready(self) -> None:
        """Block until every worker answers; from then on, a worker that exits is started again."""
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        for index in range(self.count):
            while not self._ready_file(index).exists():
                process = self._processes[index]
                if process.poll() is not None:
                    raise ServingError("UNAVAILABLE", f"REST worker {index + 1} exited with {process.returncode} "
                                                      "before it was ready; its log is above")
                if time.monotonic() > deadline:
                    raise ServingError("UNAVAILABLE", f"REST worker {index + 1} not ready after "
                                                      f"{READY_TIMEOUT_SECONDS:.0f} s")
                time.sleep(0.05)
        self._watcher.start()

    def reload(self, config) -> None:
        """Hand a ModelService config reload on to every worker."""
        self._write_config(config)
        for process in self._processes:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        self._stopping.set()
        live = [process for process in self._processes if process is not None and process.poll() is None]
        for process in live:
            process.terminate()
        for process in live:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self.runtime, ignore_errors=True)

    def _spawn(self, index: int) -> subprocess.Popen:
        self._ready_file(index).unlink(missing_ok=True)
        command = [sys.executable, "-m", "hubml.serving.workers", str(self.runtime), str(index + 1)]
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, close_fds=True)

    def _watch(self) -> None:
        while not self._stopping.wait(0.5):
            for index, process in enumerate(self._processes):
                if process is not None and process.poll() is not None and not self._stopping.is_set():
                    log.warning("REST worker %d exited with %s; starting it again", index + 1, process.returncode)
                    time.sleep(RESTART_DELAY_SECONDS)
                    self._processes[index] = self._spawn(index)

    def _ready_file(self, index: int) -> Path:
        return ready_file(self.runtime, index + 1)

    def _write_config(self, config) -> None:
        partial = self.runtime / "model_config.txt.partial"
        partial.write_text(text_format.MessageToString(config))
        os.replace(partial, self.runtime / "model_config.txt")


def ready_file(runtime: Path, number: int) -> Path:
    return runtime / f"ready-{number}.json"


def run_worker(runtime: str, number: int) -> int:
    """A worker's life: die with the first process, serve REST, reload the config on SIGHUP
    (ignored while loading: the server reads the config file again once it listens)."""
    die_with_parent()
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    prepare_server_process(log_prefix=f"worker {number} ")
    from hubml.serving import config
    from hubml.serving.server import ServeOptions, serve

    folder = Path(runtime)
    fields = json.loads((folder / "worker.json").read_text())
    config_file = str(folder / "model_config.txt")
    fields.update(model_config=config.read_model_config(config_file),
                  batching=config.BatchingOptions(**fields["batching"]) if fields["batching"] else None,
                  ready_file=str(ready_file(folder, number)), reload_file=config_file)
    return serve(ServeOptions(**fields))


if __name__ == "__main__":
    sys.exit(run_worker(sys.argv[1], int(sys.argv[2])))
