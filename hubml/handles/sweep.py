"""The `Sweep` handle: a hyperparameter sweep's trials, best trial, plot, progress, cancel, deploy.

    sweep = client.tune(spec)          # or %%tune ...; client.sweep("mnist-3-0a1b2c") after a restart
    sweep.follow()                     # progress as text until the sweep ends
    sweep.trials                       # DataFrame: parameters, state, objective, epoch, duration, job
    sweep.best.params; sweep.deploy()  # the best trial's model behind an endpoint
"""
from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

from hubml.exceptions import SweepFailed
from hubml.extras import require
from hubml.handles.base import Handle
from hubml.handles.job import Job
from hubml.redaction import redact_spec
from hubml.tuning import launch
from hubml.tuning.records import SUCCEEDED, SweepBook, SweepRecord, TrialRecord
from hubml.tuning.spec import TuneSpec
from hubml.tuning.text import progress_lines, summary, trials_table

if TYPE_CHECKING:
    from hubml.client import Client

POLL_SECONDS = 0.5


class Sweep(Handle):
    def __init__(self, client: Client, record: SweepRecord):
        self.book = SweepBook(client.settings.home)
        super().__init__(client, record)

    @property
    def spec(self) -> TuneSpec:
        return self._record.tune_spec

    def _fetch(self) -> SweepRecord:
        return self.book.get(self.id)

    @property
    def trials(self) -> Any:
        """A pandas DataFrame, one row per trial: its parameters, state, objective, last epoch, duration, job."""
        require("tune", "Sweep.trials")
        import pandas

        record = self.record
        names = [param.name for param in record.tune_spec.space]
        rows = [{"trial": trial.number, **{name: trial.params.get(name) for name in names}, "state": trial.state,
                 record.spec["objective"]: trial.objective, "epoch": trial.step, "duration": trial.duration,
                 "job": trial.job_id, "reason": trial.reason} for trial in record.trials]
        columns = ["trial", *names, "state", record.spec["objective"], "epoch", "duration", "job", "reason"]
        return pandas.DataFrame(rows, columns=columns).set_index("trial")

    @property
    def best(self) -> TrialRecord | None:
        """The succeeded trial with the best objective (`.params`, `.objective`, `.job_id`), or None yet."""
        return self.record.best()

    def job(self, trial: int) -> Job:
        """The `Job` handle of one trial."""
        for record in self.record.trials:
            if record.number == trial and record.job_id:
                return self.client.job(record.job_id)
        raise LookupError(f"sweep {self.id} has no trial {trial} with a job")

    def deploy(self, **options: Any) -> Any:
        """Serve the best trial's exported model: `client.deploy(best_job_id, **options)`."""
        best = self.best
        if best is None:
            raise SweepFailed(self.id, self.state, "no trial has succeeded yet, so there is no best model")
        return self.client.deploy(best.job_id, **options)

    def tensorboard(self) -> Any:
        """One TensorBoard over every trial, each run named by its parameters; see `hubml.tensorboard`."""
        from hubml.tensorboard import for_sweep

        return for_sweep(self.client, self)

    def plot(self) -> Any:
        """A matplotlib Figure of the learning curves and results; the trials table as text without matplotlib."""
        try:
            from hubml.tuning.plot import sweep_figure
        except ImportError:
            text = trials_table(self.record)
            print(text)
            return text
        return sweep_figure(self.record)

    def cancel(self) -> Sweep:
        self._record = launch.cancel(self.client, self.book, self.id)
        return self

    def wait(self, timeout: float | None = None, raise_on_failure: bool = True) -> Sweep:
        """Block until the sweep ends; raise `SweepFailed` unless it succeeded."""
        deadline = None if timeout is None else time.time() + timeout
        while not self.done:
            if deadline is not None and time.time() > deadline:
                raise TimeoutError(f"sweep {self.id} still {self.state} after {timeout} s")
            time.sleep(POLL_SECONDS)
        return self._check(raise_on_failure)

    def follow(self, out: TextIO | None = None, raise_on_failure: bool = True) -> Sweep:
        """Print each trial's start, epochs and end, and a summary when one ends, until the sweep ends."""
        out = out or sys.stdout
        seen: dict[int, tuple[str, int | None]] = {}
        finished = 0
        while True:
            record = self.record
            for line in progress_lines(seen, record):
                print(line, file=out, flush=True)
            now_finished = sum(trial.final for trial in record.trials)
            if now_finished != finished or record.final:
                finished = now_finished
                print(f"[sweep] {summary(record)}", file=out, flush=True)
            if record.final:
                return self._check(raise_on_failure)
            time.sleep(POLL_SECONDS)

    def _check(self, raise_on_failure: bool) -> Sweep:
        record = self.record
        if raise_on_failure and record.state != SUCCEEDED:
            raise SweepFailed(self.id, record.state, record.reason)
        return self

    def to_json(self) -> dict[str, Any]:
        """The JSON model the server extension and the sidebar share; secret env values masked."""
        data = self.record.to_json()
        return {**data, "spec": redact_spec(data["spec"])}

    def __repr__(self) -> str:
        record = self.record
        return f"{summary(record)}\n{trials_table(record)}" if record.trials else summary(record)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """A live widget in a notebook, plain text under papermill and in a terminal (as `Job`, `Endpoint`)."""
        from hubml.extension.display import mimebundle

        return mimebundle(self)
