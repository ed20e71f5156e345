"""One trial in flight: its job, the metrics it reports, and what Optuna is told about it.

The driver polls each running trial. New epochs (or steps) of the objective
go to `trial.report`, and the pruner is asked after each; a trial it prunes
has its job cancelled (freeing the job's resources) and is told PRUNED. A
finished job is told COMPLETE with its last reported objective, or FAIL.
"""
from __future__ import annotations

import math
import time
from typing import Any

import optuna

from hubml.backends.base import JobRecord
from hubml.handles.job import Job
from hubml.tuning.records import CANCELLED, FAILED, PENDING, PRUNED, RUNNING, SUCCEEDED, TrialRecord


class RunningTrial:
    def __init__(self, study: optuna.Study, trial: optuna.Trial, record: TrialRecord, job: Job, objective: str):
        self.study = study
        self.trial = trial
        self.record = record
        self.job = job
        self.objective = objective
        self._seen_metrics = 0
        self._reported_steps: set[int] = set()
        self._last_value: float | None = None

    def poll(self) -> bool:
        """Take in what the job did since the last poll; True when the record changed."""
        job = self.job.record  # before the metrics: a final job's metrics file is complete
        changed = self._copy_times(job)
        if self._take_metrics():
            changed = True
            if self._should_prune():
                self._prune()
                return True
        if job.final:
            self._finish(job)
            return True
        return changed

    def stop(self, reason: str) -> None:
        """End the trial's job because the sweep ends; Optuna records it as failed (it has no CANCELLED)."""
        self._copy_times(self.job.cancel().record)
        self._conclude(CANCELLED, reason, optuna.trial.TrialState.FAIL)

    def _copy_times(self, job: JobRecord) -> bool:
        """The job's times, and while it is queued its reason (what it waits for); True when they changed."""
        before = (self.record.state, self.record.started_at, self.record.finished_at, self.record.reason)
        if not self.record.final:
            if job.started_at is not None:
                self.record.state = RUNNING
            self.record.reason = job.reason if job.state == PENDING else ""
        self.record.started_at, self.record.finished_at = job.started_at, job.finished_at
        return before != (self.record.state, self.record.started_at, self.record.finished_at, self.record.reason)

    def _take_metrics(self) -> bool:
        """Report every new value of the objective, by epoch (else step); True when there was one."""
        metrics = self.job.metrics()
        new = metrics[self._seen_metrics:]
        self._seen_metrics = len(metrics)
        reported = False
        for metric in new:
            step = metric.get("epoch", metric.get("step"))
            if self.objective not in metric or not isinstance(step, int):
                continue
            value = metric[self.objective]
            self._last_value = float("nan") if value is None else float(value)  # None is how report writes NaN
            if step in self._reported_steps:
                continue  # a retried attempt reports its epochs again: the first report stands
            self._reported_steps.add(step)
            self.trial.report(self._last_value, step)
            self.record.curve.append([step, None if math.isnan(self._last_value) else self._last_value])
            reported = True
        return reported

    def _should_prune(self) -> bool:
        return not self.job.done and self.trial.should_prune()

    def _prune(self) -> None:
        job = self.job.cancel().record
        self._copy_times(job)
        if job.state == SUCCEEDED:  # it finished every epoch before the cancel landed: it was not cut short
            self._take_metrics()
            self._finish(job)
            return
        step = self.record.step
        self._conclude(PRUNED, f"stopped early at epoch {step}", optuna.trial.TrialState.PRUNED)

    def _finish(self, job: JobRecord) -> None:
        self._take_metrics()
        if job.state != SUCCEEDED:
            state = CANCELLED if job.state == CANCELLED else FAILED
            self._conclude(state, job.reason or f"job {job.state.lower()}", optuna.trial.TrialState.FAIL)
        elif self._last_value is None:
            self._conclude(FAILED, f"the job never reported {self.objective!r} (hubml.report or "
                                   "hubml.keras.ReportCallback)", optuna.trial.TrialState.FAIL)
        elif math.isnan(self._last_value):
            self._conclude(FAILED, f"{self.objective} was NaN", optuna.trial.TrialState.FAIL)
        else:
            self.record.objective = self._last_value
            self._conclude(SUCCEEDED, "", optuna.trial.TrialState.COMPLETE, self._last_value)

    def _conclude(self, state: str, reason: str, optuna_state: Any, value: float | None = None) -> None:
        self.record.state, self.record.reason = state, reason
        self.record.finished_at = self.record.finished_at or time.time()
        if optuna_state == optuna.trial.TrialState.COMPLETE:
            self.study.tell(self.trial, value)
        else:
            self.study.tell(self.trial, state=optuna_state)
