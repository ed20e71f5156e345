"""The model registry: the models in storage, and each version's lineage from job to endpoint.

A model is a folder `{storage}/models/{name}/` in TF Serving's layout, one
numeric folder per version. Nothing more is stored for the registry: a
version's producing job is the job whose `model.json` records that export
(`hubml.runtime.publish`), its final metrics are that job's last report, and
the endpoints serving it are those whose served versions include it. So the
registry is always as true as storage and the backend's records, and models
copied into storage by hand are listed too (with no producing job). A version
is listed once it holds a SavedModel: a running job's reserved, still empty
version folder is not a model yet.

    client.models()            # [{"name", "uri", "versions": [...]}], newest version first
    client.model("mnist")      # one, NotFound if there is no such folder
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hubml import storage
from hubml.backends.base import check_id
from hubml.exceptions import NotFound
from hubml.specs import NAME_PATTERN

if TYPE_CHECKING:
    from hubml.client import Client


def models(client: Client) -> list[dict[str, Any]]:
    """Every model in storage with its versions, by name."""
    root = storage.join(client.settings.storage, "models")
    names = [name for name in storage.listdir(root) if NAME_PATTERN.match(name)]
    lineage = _Lineage(client)
    return [_model(root, name, lineage) for name in names if published_versions(storage.join(root, name))]


def model(client: Client, name: str) -> dict[str, Any]:
    """One model with its versions; `NotFound` when storage has no version of it."""
    check_id(name, "MODEL", "a model name")
    root = storage.join(client.settings.storage, "models")
    if not published_versions(storage.join(root, name)):
        raise NotFound("model", name)
    return _model(root, name, _Lineage(client))


class _Lineage:
    """Which job exported each (model, version), and which endpoints serve it, read once per listing."""

    def __init__(self, client: Client):
        self.client = client
        self.producers: dict[tuple[str, int], Any] = {}
        for job in client.jobs():
            exported = client.backend.exported_model(job.id)
            if exported:
                self.producers[(exported["model"], int(exported["version"]))] = job
        self.endpoints = [endpoint.record for endpoint in client.endpoints()]

    def version(self, name: str, version: int, uri: str) -> dict[str, Any]:
        job = self.producers.get((name, version))
        metrics = job.metrics() if job is not None else []
        return {
            "version": version,
            "uri": uri,
            "job": job.id if job is not None else None,
            "created_at": job.record.finished_at if job is not None else None,
            "metrics": final_metrics(metrics),
            "endpoints": [record["name"] for record in self.endpoints if self._serves(record, name, uri, version)],
        }

    @staticmethod
    def _serves(record: dict[str, Any], name: str, uri: str, version: int) -> bool:
        base = uri.rstrip("/").rsplit("/", 1)[0]
        return record.get("model_uri", "").rstrip("/") == base and version in record.get("versions", [])


def _model(root: str, name: str, lineage: _Lineage) -> dict[str, Any]:
    base = storage.join(root, name)
    versions = sorted(published_versions(base), reverse=True)
    return {"name": name, "uri": base,
            "versions": [lineage.version(name, version, storage.join(base, str(version))) for version in versions]}


def published_versions(base: str) -> list[int]:
    """The model's versions that hold a SavedModel, ascending."""
    return [version for version in storage.model_versions(base)
            if storage.exists(storage.join(base, str(version), "saved_model.pb"))]


def final_metrics(metrics: list[dict[str, Any]]) -> dict[str, Any]:
    """A job's last report, without its bookkeeping fields (when, which step)."""
    if not metrics:
        return {}
    return {key: value for key, value in metrics[-1].items() if key not in ("time", "step")}
