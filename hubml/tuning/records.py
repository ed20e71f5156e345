"""What is known about a sweep and its trials, kept in the local store (`kind="sweep"`).

The sweep's driver is the only writer while it lives: it rewrites the whole
record after every change it sees. Readers (handles, the CLI, the server
extension) only read, except to record that a driver was lost or that a sweep
was cancelled after its driver was gone. Optuna's own study lives beside it in
`HUBML_HOME/sweeps/<id>/optuna.db`; this record is the readable view of it.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from hubml.backends.base import check_id
from hubml.backends.local.store import Store
from hubml.exceptions import NotFound
from hubml.processes import supervisor_alive
from hubml.tuning.spec import TuneSpec

KIND = "sweep"
PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED, PRUNED = (
    "PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "PRUNED")
FINAL_SWEEP_STATES = frozenset({SUCCEEDED, FAILED, CANCELLED})
FINAL_TRIAL_STATES = frozenset({SUCCEEDED, FAILED, CANCELLED, PRUNED})


class Timed:
    """`duration` from `started_at` and `finished_at` (until now while unfinished)."""

    started_at: float | None
    finished_at: float | None

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.finished_at or time.time()) - self.started_at


@dataclass
class TrialRecord(Timed):
    """One trial: its sampled parameters, its job, and what it reported."""

    number: int
    params: dict[str, Any]
    job_id: str | None = None
    state: str = PENDING
    objective: float | None = None
    curve: list[list[float]] = field(default_factory=list)  # [[step, objective], ...] as reported
    reason: str = ""
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def final(self) -> bool:
        return self.state in FINAL_TRIAL_STATES

    @property
    def step(self) -> int | None:
        """The last epoch (or step) the trial reported its objective for."""
        return int(self.curve[-1][0]) if self.curve else None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "step": self.step, "duration": self.duration}


@dataclass
class SweepRecord(Timed):
    id: str
    name: str
    user: str
    spec: dict[str, Any]
    state: str = PENDING
    reason: str = ""
    submitted_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    driver_pid: int | None = None
    trials: list[TrialRecord] = field(default_factory=list)

    @property
    def final(self) -> bool:
        return self.state in FINAL_SWEEP_STATES

    @property
    def tune_spec(self) -> TuneSpec:
        return TuneSpec.from_dict(self.spec)

    @property
    def direction(self) -> str:
        return self.spec["direction"]


    def best(self) -> TrialRecord | None:
        """The succeeded trial with the best objective."""
        finished = [trial for trial in self.trials if trial.state == SUCCEEDED and trial.objective is not None]
        if not finished:
            return None
        pick = max if self.direction == "maximize" else min
        return pick(finished, key=lambda trial: trial.objective)

    def count(self, *states: str) -> int:
        return sum(trial.state in states for trial in self.trials)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["trials"] = [trial.to_json() for trial in self.trials]
        best = self.best()
        return {**data, "duration": self.duration, "best": best.number if best else None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SweepRecord:
        data = {key: value for key, value in data.items() if key not in ("duration", "best")}
        trials = [TrialRecord(**{key: value for key, value in trial.items() if key not in ("step", "duration")})
                  for trial in data.pop("trials", [])]
        return cls(**data, trials=trials)


class SweepBook:
    """Sweep records in the store under HUBML_HOME, and each sweep's folder beside them."""

    def __init__(self, home: str):
        self.home = home
        self.store = Store(home)

    def folder(self, sweep_id: str) -> str:
        path = os.path.join(self.home, "sweeps", check_sweep_id(sweep_id))
        os.makedirs(path, exist_ok=True)
        return path

    def put(self, record: SweepRecord) -> SweepRecord:
        self.store.put(KIND, record.id, record.to_json())
        return record

    def get(self, sweep_id: str) -> SweepRecord:
        data = self.store.get(KIND, check_sweep_id(sweep_id))
        if data is None:
            raise NotFound("sweep", sweep_id)
        return self._checked(SweepRecord.from_json(data))

    def all(self) -> list[SweepRecord]:
        records = [self._checked(SweepRecord.from_json(data)) for data in self.store.all(KIND)]
        return sorted(records, key=lambda record: record.submitted_at)

    def driver_alive(self, record: SweepRecord) -> bool:
        return bool(record.driver_pid) and supervisor_alive(record.driver_pid, record.id)

    def _checked(self, record: SweepRecord) -> SweepRecord:
        """A sweep whose driver died without a word (reboot, SIGKILL) says so instead of RUNNING forever."""
        if record.state == RUNNING and not self.driver_alive(record):
            latest = SweepRecord.from_json(self.store.get(KIND, record.id))  # it may have just finished
            if latest.state == RUNNING:
                latest.state, latest.reason = FAILED, "the sweep's driver process was lost"
                latest.finished_at = time.time()
                self.put(latest)
            return latest
        return record


def check_sweep_id(sweep_id: str) -> str:
    return check_id(sweep_id, "SWEEP", "a sweep id")
