"""Tuning fixtures: trial bodies, and a guard that leaves no sweep driver or trial job running."""
from __future__ import annotations

import pytest

from overlap import most_at_once

# A real (numpy) logistic regression trained by gradient descent, one epoch per report. Small learning
# rates barely lower its loss; the sleep stands in for a longer epoch, so the driver can stop a trial midway.
LOGISTIC = """
import time
import numpy as np
import hubml
rng = np.random.default_rng(0)
x = rng.normal(size=(2000, 5))
y = (x @ np.array([2.0, -1.0, 1.5, 0.5, -2.0]) > 0).astype(float)
w = np.zeros(5)
for epoch in range(1, EPOCHS + 1):
    for _ in range(20):
        p = 1 / (1 + np.exp(-(x @ w)))
        w -= lr * x.T @ (p - y) / len(y)
    time.sleep(EPOCH_SECONDS)
    p = np.clip(1 / (1 + np.exp(-(x @ w))), 1e-7, 1 - 1e-7)
    loss = float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())
    hubml.report(step=epoch, epoch=epoch, epochs=EPOCHS, val_loss=loss, val_accuracy=float(((p > 0.5) == y).mean()))
"""


@pytest.fixture
def logistic():
    """The trial body above, for `epochs` epochs of about `epoch_seconds` each."""
    return lambda epochs, epoch_seconds: f"EPOCHS = {epochs}\nEPOCH_SECONDS = {epoch_seconds}\n{LOGISTIC}"


@pytest.fixture
def max_concurrent():
    return most_trials_at_once


def most_trials_at_once(client, sweep) -> int:
    """The most trial jobs that ran at the same moment, from the jobs' own start and end times."""
    records = [client.job(trial.job_id).record for trial in sweep.record.trials if trial.job_id]
    return most_at_once((record.started_at, record.finished_at) for record in records
                        if record.started_at is not None)


@pytest.fixture(autouse=True)
def no_leftovers(hubml_home):
    """After each test: cancel any sweep and any job still running in the test's own HUBML_HOME."""
    yield
    from hubml.client import Client

    client = Client(home=str(hubml_home))
    for sweep in client.sweeps():
        if not sweep.done:
            sweep.cancel()
    for job in client.jobs():
        if not job.done:
            job.cancel()
