"""A training replica SIGKILLed mid-run is retried per its policy and resumes from its checkpoint:
real Keras `fit` with `hubml.keras.ReportCallback()` (which wraps `BackupAndRestore` under
HUBML_CHECKPOINT_DIR), so the finished job has trained the requested epochs once each, not from zero."""
from __future__ import annotations

import os
import re
import signal

from fault_helpers import replica_pids
from wait_helpers import wait_for

EPOCHS = 4
TRAINER = f"""
import os, time
import numpy as np
import keras
import hubml.keras

class Announce(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        print(f"attempt {{os.environ['HUBML_ATTEMPT']}} begins epoch {{epoch + 1}}", flush=True)

    def on_epoch_end(self, epoch, logs=None):  # runs after ReportCallback reported and backed up the epoch
        print(f"attempt {{os.environ['HUBML_ATTEMPT']}} backed up epoch {{epoch + 1}}", flush=True)
        time.sleep(1.0)  # room for the kill

x = np.random.default_rng(0).random((64, 4), dtype="float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
model.compile("sgd", "mse")
model.fit(x, x.sum(axis=1), epochs={EPOCHS}, batch_size=16, verbose=0,
          callbacks=[hubml.keras.ReportCallback(), Announce()])
print("trained", flush=True)
"""


def epochs_begun(job, attempt: int) -> list[int]:
    return [int(match.group(1)) for line in job.logs() if line.attempt == attempt
            for match in [re.fullmatch(r"attempt \d+ begins epoch (\d+)", line.text)] if match]


def test_a_replica_killed_mid_run_is_retried_and_resumes_from_its_checkpoint(client):
    job = client.train(TRAINER, name="resumable", retries=1)
    wait_for(lambda: any(line.text == "attempt 1 backed up epoch 2" for line in job.logs()), timeout=180,
             what="the second epoch reported and backed up")
    reported_before_kill = len(job.metrics())
    (pid,) = replica_pids(job.id, attempt=1)
    os.kill(pid, signal.SIGKILL)

    job.wait(timeout=240)
    record = job.record
    assert (record.state, record.attempt) == ("SUCCEEDED", 2), job.log_tail()
    assert any("attempt 1 failed (worker-0 was killed by SIGKILL); retrying" in line
               for line in open(os.path.join(client.backend.job_dir(job.id), "supervisor.log")))
    assert epochs_begun(job, 1)[:reported_before_kill] == list(range(1, reported_before_kill + 1))
    assert epochs_begun(job, 2) == list(range(reported_before_kill + 1, EPOCHS + 1)), "resumed, not from zero"
    assert [entry["epoch"] for entry in job.metrics()] == list(range(1, EPOCHS + 1)), "each epoch trained once"
    assert job.metrics()[-1]["epochs"] == EPOCHS
