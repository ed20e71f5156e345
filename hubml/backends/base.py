"""The one protocol every backend implements.

Public methods own the cross-cutting work (validation, naming, bundling,
reading what the job contract put in storage) and call a few private
primitives that each backend supplies. The local backend is the reference
implementation and the test double for everything above it.
"""
from __future__ import annotations

import dataclasses
import json
import os
import secrets
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator

from hubml import bundle, storage
from hubml.config import Settings
from hubml.exceptions import InvalidArgument, ModelLayoutError, NotFound
from hubml.redaction import redact_spec
from hubml.specs import NAME_PATTERN, DeploySpec, TrainSpec

PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED = "PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"
FINAL_STATES = frozenset({SUCCEEDED, FAILED, CANCELLED})
ENDPOINT_PENDING, ENDPOINT_READY, ENDPOINT_FAILED = "PENDING", "READY", "FAILED"
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


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
        """What descriptions, widgets and the sidebar show: secret env values masked (`hubml.redaction`)."""
        return {**asdict(self), "spec": redact_spec(self.spec), "duration": self.duration}


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

    def check(self, spec: TrainSpec) -> TrainSpec:
        """Validate a spec and refuse one this backend could never run; nothing is stored."""
        spec.validate()
        self._check_capacity(spec)
        return spec

    def submit(self, spec: TrainSpec) -> JobRecord:
        self.check(spec)
        job_id = f"{spec.name}-{secrets.token_hex(3)}"
        bundle.publish(spec, self.job_url(job_id))
        record = JobRecord(id=job_id, name=spec.name, user=self.settings.user, backend=self.name,
                           spec=spec.to_dict())
        return self._submit(record)

    def job(self, job: str) -> JobRecord:
        """A job by its id, or by its name: the newest job submitted under that name."""
        check_id(job)
        record = self._job(job) or self._newest_named(job)
        if record is None:
            raise NotFound("job", job)
        return record

    def jobs(self) -> list[JobRecord]:
        return sorted(self._jobs(), key=lambda record: record.submitted_at)

    def cancel(self, job: str) -> JobRecord:
        """Cancel a job named by id or name (see `job`)."""
        record = self.job(job)
        return record if record.final else self._cancel(record)

    def logs(self, job: str, follow: bool = False, cursor: dict | None = None) -> Iterator[LogLine]:
        """Every replica's lines, attempt by attempt; with `follow`, until the job is final."""
        return self._logs(self.job(job), follow, cursor)

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

    def _newest_named(self, name: str) -> JobRecord | None:
        named = [record for record in self._jobs() if record.name == name]
        return max(named, key=lambda record: record.submitted_at, default=None)

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

    # --- endpoints ----------------------------------------------------------------------
    #
    # An endpoint record is a JSON-ready dict (see `endpoint_record`): name, model (the
    # name the model is served under), model_uri (its base folder in TF Serving's
    # layout), version (pinned, or None for the highest), versions (being served),
    # state (PENDING, READY, FAILED), reason, rest_url (http://host:port),
    # grpc_target (host:port), replicas, batching, created_at, backend; the local
    # backend adds pid.

    def deploy(self, spec: DeploySpec) -> dict[str, Any]:
        """Validate, find the model, check its layout, then start serving it; returns at once."""
        spec.validate()
        if self._endpoint(spec.name) is not None:
            raise InvalidArgument("--name", f"an endpoint named {spec.name!r} already exists: undeploy it "
                                  "first, or choose another --name")
        base, version = self.resolve_model(spec.model, spec.version)
        check_layout(base, version)
        return self._deploy(dataclasses.replace(spec, model=base, version=version))

    def endpoint(self, name: str) -> dict[str, Any]:
        record = self._endpoint(check_id(name, "ENDPOINT", "an endpoint name"))
        if record is None:
            raise NotFound("endpoint", name)
        return record

    def endpoints(self) -> list[dict[str, Any]]:
        return sorted(self._endpoints(), key=lambda record: record["name"])

    def undeploy(self, name: str) -> None:
        self._undeploy(self.endpoint(name)["name"])

    def resolve_model(self, model: str, version: int | None) -> tuple[str, int | None]:
        """(base URL, version) of what `model` names: a path or URL, a model in storage, or a job's export.

        A job pins the version it exported unless `version` says otherwise; the
        others serve `version`, or the highest one (and new ones as they appear).
        """
        if "://" in model or model.startswith((".", "/", "~")):
            return absolute_url(model), version
        is_name = bool(NAME_PATTERN.match(model)) and len(model) <= 63
        stored = storage.join(self.settings.storage, "models", model)
        if is_name and storage.exists(stored):
            return stored, version
        job = self._job(model) if is_name else None
        if job is not None:
            exported = self.exported_model(model)
            if exported is None and not job.final:
                raise InvalidArgument("MODEL", f"job {model} is still {job.state}: deploy it once it has finished "
                                      "(job.wait()) and exported its model")
            if exported is None:
                raise InvalidArgument("MODEL", f"job {model} exported no model: its code must save a SavedModel "
                                      "to HUBML_MODEL_DIR")
            return exported["uri"].rstrip("/").rsplit("/", 1)[0], exported["version"] if version is None else version
        if os.path.exists(model):
            return absolute_url(model), version
        raise InvalidArgument("MODEL", f"{model!r} is not a model in {storage.join(self.settings.storage, 'models')}, "
                              "a model folder or a job id")

    # --- endpoint primitives each backend supplies ----------------------------------------

    @abstractmethod
    def _deploy(self, spec: DeploySpec) -> dict[str, Any]:
        """Start serving; `spec.model` is the checked base URL, `spec.version` the version to pin or None."""

    def _endpoint(self, name: str) -> dict[str, Any] | None:
        return next((record for record in self._endpoints() if record["name"] == name), None)

    @abstractmethod
    def _endpoints(self) -> list[dict[str, Any]]: ...

    @abstractmethod
    def _undeploy(self, name: str) -> None: ...

    # --- quota: what is used against what is allowed ----------------------------------------

    def quota(self) -> list[dict[str, Any]]:
        """One row per resource: {'resource', 'used', 'limit', 'source'}, amounts as numbers
        (cores, bytes, GPUs, counts), and where the backend queues jobs itself (local) 'waiting':
        how many queued jobs need more of it than is free. Empty when the backend sets no limits."""
        return self._quota()

    def _quota(self) -> list[dict[str, Any]]:
        return []


def check_id(job_id: str, argument: str = "JOB", what: str = "a job id") -> str:
    """Ids reach storage paths and process tables: only names hubml itself could have made."""
    if not isinstance(job_id, str) or not NAME_PATTERN.match(job_id) or len(job_id) > 63:
        raise InvalidArgument(argument, f"{job_id!r} is not {what}")
    return job_id


def endpoint_record(spec: DeploySpec, backend: str, **fields: Any) -> dict[str, Any]:
    """A new endpoint's record for a resolved spec (see `Backend._deploy`); `fields` add or override."""
    return {"name": spec.name, "model": served_model_name(spec.model), "model_uri": spec.model,
            "version": spec.version, "versions": [], "state": ENDPOINT_PENDING, "reason": "",
            "rest_url": "", "grpc_target": "", "replicas": spec.replicas, "batching": spec.batching,
            "created_at": time.time(), "backend": backend, **fields}


def served_model_name(base: str) -> str:
    """The name a model is served under (`/v1/models/<name>`): its base folder's name, as TF Serving users name it."""
    return base.rstrip("/").rsplit("/", 1)[-1]


def absolute_url(path_or_url: str) -> str:
    if "://" in path_or_url:
        return path_or_url.rstrip("/")
    return "file://" + os.path.abspath(os.path.expanduser(path_or_url))


def check_layout(base: str, version: int | None) -> str:
    """Raise `ModelLayoutError` naming what TF Serving would miss under `base`; return the version folder's URL.

    With no `version`, the highest version folder holding a SavedModel is the one served.
    """
    if not storage.exists(base):
        raise ModelLayoutError(base, "the model folder does not exist")
    if any(storage.exists(storage.join(base, name)) for name in SAVED_MODEL_FILES):
        parent, _, folder = base.rstrip("/").rpartition("/")
        if folder.isdigit():
            raise ModelLayoutError(base, f"this is a version folder: deploy the model folder above it, {parent}")
        raise ModelLayoutError(base, f"saved_model.pb is directly in the model folder; move it into a numeric "
                               f"version folder, {storage.join(base, '1', 'saved_model.pb')}")
    folders = {int(name): name for name in storage.listdir(base) if name.isdigit()}
    if not folders:
        raise ModelLayoutError(base, f"no numeric version folder: {storage.join(base, '1', 'saved_model.pb')} "
                               "is missing")
    if version is not None and version not in folders:
        raise ModelLayoutError(base, f"{storage.join(base, str(version))} is missing (versions there: "
                               f"{', '.join(str(v) for v in sorted(folders))})")
    candidates = [version] if version is not None else sorted(folders, reverse=True)
    for candidate in candidates:
        folder = storage.join(base, folders[candidate])
        if any(storage.exists(storage.join(folder, name)) for name in SAVED_MODEL_FILES):
            return folder
    missing = storage.join(base, folders[candidates[0]], "saved_model.pb")
    raise ModelLayoutError(base, f"{missing} is missing")
