"""Keep a replica's job folder in object storage up to date.

On `file://` storage the runtime works in the job folder itself and nothing
needs syncing. On object storage it works in a local folder: checkpoints are
fetched before the code starts (so a retried replica on another node resumes),
and metrics, TensorBoard events and checkpoints are uploaded every few seconds
and once more at the end.
"""
from __future__ import annotations

import os
import threading

from hubml import storage
from hubml.runtime.contract import Replica

SYNCED = ("checkpoints", "tensorboard")
INTERVAL_SECONDS = 10.0


class Syncer:
    def __init__(self, replica: Replica, decides: bool):
        self.replica = replica
        self.decides = decides
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="hubml-sync", daemon=True)

    @property
    def needed(self) -> bool:
        return not storage.is_local(self.replica.job_url)

    def start(self) -> None:
        if not self.needed:
            return
        remote = storage.join(self.replica.job_url, "checkpoints")
        if storage.exists(remote):
            storage.download(remote, self.replica.folder("checkpoints"))
        # A later attempt continues the metrics of the earlier ones: the next push would replace them.
        metrics = storage.join(self.replica.job_url, "metrics.jsonl")
        local_metrics = os.path.join(self.replica.folder(), "metrics.jsonl")
        if self.decides and not os.path.exists(local_metrics) and storage.exists(metrics):
            with open(local_metrics, "w") as handle:
                handle.write(storage.read_text(metrics))
        self._thread.start()

    def stop(self) -> None:
        if not self.needed:
            return
        self._stop.set()
        self._thread.join()
        self.push()

    def push(self) -> None:
        if not self.decides:
            return
        for name in SYNCED:
            local = os.path.join(self.replica.workdir, name)
            if os.path.isdir(local) and os.listdir(local):
                storage.upload(local, storage.join(self.replica.job_url, name))
        metrics = os.path.join(self.replica.workdir, "metrics.jsonl")
        if os.path.exists(metrics):
            with open(metrics) as handle:
                storage.write_text(storage.join(self.replica.job_url, "metrics.jsonl"), handle.read())

    def _loop(self) -> None:
        while not self._stop.wait(INTERVAL_SECONDS):
            try:
                self.push()
            except Exception as error:  # a flaky store must not kill training; the final push reports
                print(f"[hubml] storage sync failed, will retry: {error}", flush=True)
