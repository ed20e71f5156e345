"""The sweep driver: `python -m hubml.tuning.driver HOME SWEEP_ID`, one detached process per sweep.

It runs in a session of its own, so a sweep outlives the kernel or command
that started it, and any later kernel reattaches by id. It loops, Optuna
ask-and-tell style: poll the running trials (metrics to the pruner, finished
jobs to the study), end the sweep when it must (cancelled, `--max-failed`
reached, budget spent), and ask Optuna for new trials while fewer than
`--parallel` are in flight. Each trial is an ordinary job on the backend,
labelled with the sweep and trial number, so the backend's queue decides how
many run at once: on the local backend never more than its capacity holds,
the rest PENDING with what they wait for. SIGTERM (`Sweep.cancel`) cancels the
running trials and ends the sweep CANCELLED.
"""
from __future__ import annotations

import os
import signal
import sys
import time
import traceback

import optuna

from hubml.client import Client
from hubml.exceptions import BackendError, InvalidArgument
from hubml.tuning.algorithms import create_study
from hubml.tuning.records import CANCELLED, FAILED, RUNNING, SUCCEEDED, SweepBook, TrialRecord
from hubml.tuning.spec import TuneSpec
from hubml.tuning.trial import RunningTrial

POLL_SECONDS = 0.2
STUDY_FILE = "optuna.db"


class Driver:
    def __init__(self, client: Client, book: SweepBook, sweep_id: str):
        self.client = client
        self.book = book
        self.record = book.get(sweep_id)
        self.spec = TuneSpec.from_dict(self.record.spec)
        storage = f"sqlite:///{os.path.join(book.folder(sweep_id), STUDY_FILE)}"
        self.study = create_study(self.spec, sweep_id, storage)
        self.distributions = {param.name: param.distribution() for param in self.spec.space}
        self.running: list[RunningTrial] = []
        self.cancel_requested = False
        self.refused: str | None = None  # why the backend refused a trial's job outright
        signal.signal(signal.SIGTERM, self._on_sigterm)

    def run(self) -> str:
        self._save(state=RUNNING, started_at=time.time(), driver_pid=os.getpid())
        try:
            state, reason = self._loop()
        except Exception as error:  # the sweep must end with a reason, never stay RUNNING
            traceback.print_exc()
            state, reason = FAILED, f"the sweep driver failed: {error}"
        self._stop_running("the sweep ended" if state != CANCELLED else "the sweep was cancelled")
        self._save(state=state, reason=reason, finished_at=time.time())
        return state

    def _loop(self) -> tuple[str, str]:
        while True:
            changed = self._poll_running()
            ending = self._ending()
            if ending:
                return ending
            changed = self._launch_trials() or changed
            if not self.running and not self.refused:
                return self._verdict()
            if changed:
                self._save()
            time.sleep(POLL_SECONDS)

    def _poll_running(self) -> bool:
        changed = False
        for running in list(self.running):
            if running.poll():
                changed = True
            if running.record.final:
                self.running.remove(running)
                print(f"trial {running.record.number} {running.record.state} {running.record.reason}".rstrip(),
                      flush=True)
        return changed

    def _ending(self) -> tuple[str, str] | None:
        if self.cancel_requested:
            return CANCELLED, "cancelled by user"
        if self.refused:
            return FAILED, self.refused
        failed = self.record.count(FAILED)
        if self.spec.max_failed is not None and failed >= self.spec.max_failed:
            return FAILED, f"{failed} trials failed (--max-failed {self.spec.max_failed})"
        return None

    def _launch_trials(self) -> bool:
        launched = False
        while (len(self.running) < self.spec.parallel and len(self.record.trials) < self.spec.budget
               and not self.refused):
            self._launch()
            launched = True
        return launched

    def _launch(self) -> None:
        trial = self.study.ask(self.distributions)
        record = TrialRecord(number=trial.number, params=dict(trial.params))
        self.record.trials.append(record)
        try:
            job = self.client.submit(self.spec.trial_spec(self.record.id, trial.number, record.params))
        except (BackendError, InvalidArgument) as error:
            record.state, record.reason, record.finished_at = FAILED, f"not submitted: {error}", time.time()
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            if isinstance(error, InvalidArgument):  # every trial would be refused alike (e.g. over capacity)
                self.refused = f"trial {trial.number} was refused: {error}"
            return
        record.job_id = job.id
        self.running.append(RunningTrial(self.study, trial, record, job, self.spec.objective))
        print(f"trial {trial.number} submitted as job {job.id}: {record.params}", flush=True)

    def _verdict(self) -> tuple[str, str]:
        if self.record.count(SUCCEEDED):
            return SUCCEEDED, ""
        return FAILED, "no trial succeeded"

    def _stop_running(self, reason: str) -> None:
        for running in self.running:
            running.stop(reason)
        self.running = []

    def _save(self, **fields: object) -> None:
        for name, value in fields.items():
            setattr(self.record, name, value)
        self.book.put(self.record)

    def _on_sigterm(self, signum: int, frame: object) -> None:
        self.cancel_requested = True


def main(argv: list[str]) -> int:
    home, sweep_id = argv
    driver = Driver(Client(), SweepBook(home), sweep_id)
    state = driver.run()
    print(f"{sweep_id} {state} {driver.record.reason}".rstrip(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
