"""Start a sweep's detached driver, and cancel a sweep whether or not its driver still lives."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from hubml.exceptions import BackendError
from hubml.tuning.records import CANCELLED, PENDING, SweepBook, SweepRecord
from hubml.tuning.spec import TuneSpec

if TYPE_CHECKING:
    from hubml.client import Client

DRIVER_LOG = "driver.log"
START_TIMEOUT_SECONDS = 120.0
CANCEL_TIMEOUT_SECONDS = 120.0
POLL_SECONDS = 0.1
LOG_TAIL_CHARACTERS = 2000


def start(client: Client, book: SweepBook, spec: TuneSpec) -> SweepRecord:
    """Validate, record and start the sweep; returns once its driver has taken over."""
    spec.validate()
    client.backend.check(spec.trial_spec(spec.name, 0, {}))  # a trial the backend refuses: say so before starting
    record = book.put(SweepRecord(id=f"{spec.name}-{secrets.token_hex(3)}", name=spec.name,
                                  user=client.settings.user, spec=spec.to_dict()))
    log_path = os.path.join(book.folder(record.id), DRIVER_LOG)
    environment = {**os.environ, **client.settings.as_environment()}
    with open(log_path, "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "hubml.tuning.driver", book.home, record.id],
                                   env=environment, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, close_fds=True)
    return _wait_for_driver(book, record.id, process, log_path)


def _wait_for_driver(book: SweepBook, sweep_id: str, process: subprocess.Popen, log_path: str) -> SweepRecord:
    deadline = time.time() + START_TIMEOUT_SECONDS
    while time.time() < deadline:
        record = book.get(sweep_id)
        if record.state != PENDING:
            return record
        if process.poll() is not None:
            break
        time.sleep(POLL_SECONDS)
    process.kill()
    process.wait()
    record = book.get(sweep_id)
    record.state, record.finished_at = "FAILED", time.time()
    record.reason = "the sweep's driver did not start"
    book.put(record)
    with open(log_path) as handle:
        tail = handle.read()[-LOG_TAIL_CHARACTERS:]
    raise BackendError(f"sweep {sweep_id}: its driver did not start; {log_path} ends with:\n{tail}")


def cancel(client: Client, book: SweepBook, sweep_id: str) -> SweepRecord:
    """Ask the driver to cancel its trials and end; if it is gone, cancel what it left running."""
    record = book.get(sweep_id)
    if book.driver_alive(record):
        os.kill(record.driver_pid, signal.SIGTERM)
        deadline = time.time() + CANCEL_TIMEOUT_SECONDS
        while time.time() < deadline and book.driver_alive(record):
            time.sleep(POLL_SECONDS)
        if book.driver_alive(record):
            os.killpg(record.driver_pid, signal.SIGKILL)
    record = book.get(sweep_id)
    leftovers = [trial for trial in record.trials if trial.job_id and not trial.final]
    if record.final and not leftovers:
        return record  # the driver ended the sweep itself
    for trial in leftovers:
        client.cancel(trial.job_id)
        trial.state, trial.reason, trial.finished_at = CANCELLED, "the sweep was cancelled", time.time()
    record.state, record.reason, record.finished_at = CANCELLED, "cancelled by user", time.time()
    return book.put(record)
