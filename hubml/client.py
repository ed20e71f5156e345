"""`hubml.Client`: specs in, handles out. Every front end goes through here.

    client = hubml.Client()                       # settings: argument > HUBML_* > c.HubML.* > defaults
    job = client.submit(TrainSpec(name="mnist", code=source, workers=2))
    job.follow()
    client.jobs(); client.job(job.id).cancel()
    endpoint = client.deploy(job)                 # or a model name, or a model folder/URL
    endpoint.predict([[0.1, 0.2]])
"""
from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from traitlets.config import Config

from hubml import backends
from hubml.backends.base import Backend
from hubml.config import Settings
from hubml.extras import require
from hubml.handles.endpoint import READY_TIMEOUT_SECONDS, Endpoint
from hubml.handles.job import Job
from hubml.specs import DeploySpec, Resources, TrainSpec, slugify

if TYPE_CHECKING:
    from hubml.handles.sweep import Sweep
    from hubml.tuning.spec import TuneSpec


class Client:
    def __init__(self, backend: str | None = None, *, config: Config | None = None, **settings: Any):
        self.settings = Settings.resolve({"backend": backend, **settings}, config)
        self.backend: Backend = backends.get(self.settings.backend)(self.settings)

    # --- jobs -------------------------------------------------------------------------

    def submit(self, spec: TrainSpec) -> Job:
        """Validate, bundle and start a training job; returns at once (see `Job.wait`/`Job.follow`)."""
        return Job(self, self.backend.submit(spec))

    def train(self, code: str | None = None, *, name: str, **options: Any) -> Job:
        """`submit` with the spec's fields as keywords; `cpu`, `memory`, `gpus` fill its `Resources`."""
        resources = Resources(**{key: options.pop(key) for key in ("cpu", "memory", "gpus") if key in options})
        return self.submit(TrainSpec(name=name, code=code, resources=resources, **options))

    def job(self, job: str) -> Job:
        """A job by its id, or by its name (the newest job of that name)."""
        return Job(self, self.backend.job(job))

    def jobs(self) -> list[Job]:
        return [Job(self, record) for record in self.backend.jobs()]

    def cancel(self, job: str) -> Job:
        return self.job(job).cancel()

    # --- endpoints ----------------------------------------------------------------------

    def deploy(self, model: str | Job, name: str | None = None, version: int | None = None, replicas: int = 1,
               batching: bool = False, wait: bool = True, timeout: float | None = READY_TIMEOUT_SECONDS) -> Endpoint:
        """Serve a model (a name in storage, a model folder/URL, a job id or `Job`) behind a TF Serving endpoint.

        With `wait` (the default) it returns once the endpoint serves; an
        endpoint that fails to start is removed and `EndpointFailed` says why.
        """
        source = model.id if isinstance(model, Job) else model
        name = name or default_endpoint_name(model)
        record = self.backend.deploy(DeploySpec(name=name, model=source, version=version, replicas=replicas,
                                                batching=batching))
        endpoint = Endpoint(self, record)
        return endpoint.wait_ready(timeout, remove_if_failed=True) if wait else endpoint

    def endpoint(self, name: str) -> Endpoint:
        return Endpoint(self, self.backend.endpoint(name))

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint(self, record) for record in self.backend.endpoints()]

    def undeploy(self, name: str) -> None:
        self.backend.undeploy(name)

    # --- the model registry (hubml/registry.py) ------------------------------------------

    def models(self) -> list[dict[str, Any]]:
        """The models in storage, each version with its producing job, final metrics and serving endpoints."""
        from hubml import registry

        return registry.models(self)

    def model(self, name: str) -> dict[str, Any]:
        from hubml import registry

        return registry.model(self, name)

    # --- sweeps (hyperparameter tuning; hubml/tuning, imported on first use) ---------------

    def tune(self, spec: TuneSpec) -> Sweep:
        """Validate and start a sweep; returns at once, its driver running detached (see `Sweep.follow`)."""
        require("tune", "a sweep")
        from hubml.handles.sweep import Sweep
        from hubml.tuning import launch
        from hubml.tuning.records import SweepBook

        return Sweep(self, launch.start(self, SweepBook(self.settings.home), spec))

    def sweep(self, sweep_id: str) -> Sweep:
        """Reattach to a sweep by id (after a kernel restart, from another process)."""
        from hubml.handles.sweep import Sweep
        from hubml.tuning.records import SweepBook

        return Sweep(self, SweepBook(self.settings.home).get(sweep_id))

    def sweeps(self) -> list[Sweep]:
        from hubml.handles.sweep import Sweep
        from hubml.tuning.records import SweepBook

        return [Sweep(self, record) for record in SweepBook(self.settings.home).all()]

    def quota(self) -> list[dict[str, Any]]:
        """What is used against what is allowed, per resource (namespace quota, or local capacity)."""
        return self.backend.quota()

    def queue(self) -> dict[str, int]:
        """The user's queued (PENDING) jobs counted by what they wait for, most common first:
        {'waiting for cpu': 1, 'waiting for earlier jobs to start': 3}."""
        records = [job.record for job in self.jobs()]
        waits = Counter(record.reason.removeprefix("queued: ") or "not started yet"
                        for record in records if record.state == "PENDING")
        return dict(waits.most_common())

    def __repr__(self) -> str:
        return f"Client(backend={self.settings.backend!r}, storage={self.settings.storage!r})"


def default_endpoint_name(model: str | Job) -> str:
    """A job's endpoint is named after the model it exported; a model name as it is; a folder or URL by its last part."""
    if isinstance(model, Job):
        return (model.model or {}).get("model") or model.name
    return slugify(model.rstrip("/").rsplit("/", 1)[-1])
