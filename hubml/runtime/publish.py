"""Model versions: reserve the next one before training, publish it after.

The deciding replica reserves `models/{name}/{n+1}` once per job (retries reuse
it, recorded in `jobs/{id}/model.json`), so two jobs exporting the same model
never collide and a retried job does not skip a version. On `file://` the
user's code exports straight into the version folder; on object storage it
exports into a local folder that is uploaded when the code succeeds. A version
that ends without `saved_model.pb` is removed, so a server polling the model
never sees a half-written or empty version.
"""
from __future__ import annotations

import json
import os
import shutil

from hubml import storage
from hubml.runtime.contract import Replica


def record_url(replica: Replica) -> str:
    return storage.join(replica.job_url, "model.json")


def reserve(replica: Replica, model: str) -> dict:
    """Return {'model', 'version', 'uri', 'state'} for this job, reserving a version on first call."""
    if storage.exists(record_url(replica)):
        record = json.loads(storage.read_text(record_url(replica)))
    else:
        base = storage.join(replica.storage_url, "models", model)
        version = _claim_next(base)
        record = {"model": model, "version": version, "uri": storage.join(base, str(version)), "state": "reserved"}
        storage.write_text(record_url(replica), json.dumps(record))
    return record


def export_dir(replica: Replica, record: dict) -> str:
    """Where the user's code exports (HUBML_MODEL_DIR)."""
    if storage.is_local(record["uri"]):
        path = storage.local_path(record["uri"])
        os.makedirs(path, exist_ok=True)
        return path
    return replica.folder("export")


def finish(replica: Replica, record: dict, succeeded: bool) -> None:
    local = export_dir(replica, record)
    exported = os.path.isfile(os.path.join(local, "saved_model.pb"))
    if succeeded and exported:
        if not storage.is_local(record["uri"]):
            storage.upload(local, record["uri"])
        record = {**record, "state": "exported"}
        storage.write_text(record_url(replica), json.dumps(record))
        print(f"[hubml] model exported to {record['uri']}", flush=True)
        return
    if storage.is_local(record["uri"]):
        shutil.rmtree(local, ignore_errors=True)
    if succeeded:
        storage.write_text(record_url(replica), json.dumps({**record, "state": "none"}))


def _claim_next(base: str) -> int:
    """The next integer version; on file:// claimed with an exclusive mkdir, so concurrent jobs differ."""
    version = max(storage.model_versions(base), default=0) + 1
    if not storage.is_local(base):
        return version
    os.makedirs(storage.local_path(base), exist_ok=True)
    while True:
        try:
            os.mkdir(os.path.join(storage.local_path(base), str(version)))
            return version
        except FileExistsError:
            version += 1
