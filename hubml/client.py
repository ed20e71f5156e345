"""`hubml.Client`: specs in, handles out. Every front end goes through here.

    client = hubml.Client()                       # settings: argument > HUBML_* > c.HubML.* > defaults
    job = client.submit(TrainSpec(name="mnist", code=source, workers=2))
    job.follow()
    client.jobs(); client.job(job.id).cancel()
"""
from __future__ import annotations

from typing import Any

from traitlets.config import Config

from hubml import backends
from hubml.backends.base import Backend
from hubml.config import Settings
from hubml.handles.job import Job
from hubml.specs import Resources, TrainSpec


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

    def job(self, job_id: str) -> Job:
        return Job(self, self.backend.job(job_id))

    def jobs(self) -> list[Job]:
        return [Job(self, record) for record in self.backend.jobs()]

    def cancel(self, job_id: str) -> Job:
        return self.job(job_id).cancel()

    def __repr__(self) -> str:
        return f"Client(backend={self.settings.backend!r}, storage={self.settings.storage!r})"
