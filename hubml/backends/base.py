"""The one protocol every backend implements.

Public methods own the cross-cutting work (validation, naming, bundling,
reading what the job contract put in storage) and call a few private
primitives that each backend supplies. The local backend is the reference
implementation and the test double for everything above it.
"""
from __future__ import annotations

import json
import secrets
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator

from hubml import bundle, storage
from hubml.config import Settings
from hubml.exceptions import InvalidArgument, NotFound
from hubml.specs import TrainSpec

PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED = "PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"
FINAL_STATES = frozenset({SUCCEEDED, FAILED, CANCELLED})


@dataclass
class JobRecord:
    """What a backend knows about a job; JSON-ready through `to_json()`."""

    id: str
    name: str
    user: str
    backend: str
    spec: dict[str, Any]
    state: str = PENDING
    reason: str = ""
    exit_code: int | None = None
    attempt: int = 0
    submitted_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.finished_at or time.time()) - self.started_at

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "duration": self.duration}


@dataclass(frozen=True)
class LogLine:
    """One line of a replica's log. `cursor` resumes a follow right after this line."""

    attempt: int
    role: str
    index: int
    text: str
    cursor: dict

    @property
    def replica(self) -> str:
        return f"{self.role}-{self.index}"

    def __str__(self) -> str:
        return f"[{self.replica}] {self.text}"


class Backend(ABC):
    """Runs jobs and endpoints somewhere; see hubml/backends/local and hubml/backends/kubernetes."""

    name: str = ""

    def __init__(self, settings: Settings):
        self.settings = settings

    # --- jobs -----------------------------------------------------------------

    def submit(self, spec: TrainSpec) -> JobRecord:
        spec.validate()
        self._check_capacity(spec)
        job_id = f"{spec.name}-{secrets.token_hex(3)}"
        bundle.publish(spec, self.job_url(job_id))
        record = JobRecord(id=job_id, name=spec.name, user=self.settings.user, backend=self.name,
                           spec=spec.to_dict())
        return self._submit(record)

    def job(self, job_id: str) -> JobRecord:
        check_id(job_id)
        record = self._job(job_id)
        if record is None:
            raise NotFound("job", job_id)
        return record

    def jobs(self) -> list[JobRecord]:
        return sorted(self._jobs(), key=lambda record: record.submitted_at)

    def cancel(self, job_id: str) -> JobRecord:
        record = self.job(job_id)
        return record if record.final else self._cancel(record)

    def logs(self, job_id: str, follow: bool = False, cursor: dict | None = None) -> Iterator[LogLine]:
        """Every replica's lines, attempt by attempt; with `follow`, until the job is final."""
        return self._logs(self.job(job_id), follow, cursor)

    def metrics(self, job_id: str) -> list[dict[str, Any]]:
        url = storage.join(self.job_url(check_id(job_id)), "metrics.jsonl")
        if not storage.exists(url):
            return []
        return [json.loads(line) for line in storage.read_text(url).splitlines() if line.strip()]

    def exported_model(self, job_id: str) -> dict[str, Any] | None:
        """{'model', 'version', 'uri'} once the job exported a SavedModel, else None."""
        url = storage.join(self.job_url(check_id(job_id)), "model.json")
        if not storage.exists(url):
            return None
        record = json.loads(storage.read_text(url))
        return record if record.get("state") == "exported" else None

    def job_url(self, job_id: str) -> str:
        return storage.join(self.settings.storage, "jobs", job_id)

    # --- primitives each backend supplies ----------------------------------------

    def _check_capacity(self, spec: TrainSpec) -> None:
        """Refuse, before anything is stored, a job that could never be scheduled."""

    @abstractmethod
    def _submit(self, record: JobRecord) -> JobRecord: ...

    @abstractmethod
    def _job(self, job_id: str) -> JobRecord | None: ...

    @abstractmethod
    def _jobs(self) -> list[JobRecord]: ...

    @abstractmethod
    def _cancel(self, record: JobRecord) -> JobRecord: ...

    @abstractmethod
    def _logs(self, record: JobRecord, follow: bool, cursor: dict | None) -> Iterator[LogLine]: ...


def check_id(job_id: str) -> str:
    """Ids reach storage paths and process tables: only names hubml itself could have made."""
    from hubml.specs import NAME_PATTERN

    if not isinstance(job_id, str) or not NAME_PATTERN.match(job_id) or len(job_id) > 63:
        raise InvalidArgument("JOB", f"{job_id!r} is not a job id")
    return job_id
