"""The job contract: which folders and variables a replica gets."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

from hubml import storage
from hubml.tfconfig import decider


@dataclass(frozen=True)
class Replica:
    """Who this process is within its job, and where its job keeps things."""

    job_id: str
    job_url: str
    storage_url: str
    role: str
    index: int
    attempt: int
    workdir: str

    @classmethod
    def from_environment(cls) -> Replica:
        task = json.loads(os.environ.get("TF_CONFIG") or "{}").get("task", {})
        job_url = os.environ["HUBML_JOB_URL"]
        role, index = task.get("type", "worker"), int(task.get("index", 0))
        workdir = storage.local_path(job_url) if storage.is_local(job_url) else os.environ.get(
            "HUBML_WORKDIR", os.path.join("/tmp", f"hubml-{os.environ['HUBML_JOB_ID']}-{role}-{index}"))
        return cls(
            job_id=os.environ["HUBML_JOB_ID"],
            job_url=job_url,
            storage_url=os.environ["HUBML_STORAGE"],
            role=role,
            index=index,
            attempt=int(os.environ.get("HUBML_ATTEMPT", "1")),
            workdir=workdir,
        )

    @property
    def name(self) -> str:
        return f"{self.role}-{self.index}"

    def is_decider(self, replicas: dict[str, int]) -> bool:
        # A single-replica job has no TF_CONFIG, whatever its one role (a chief-only job too): it decides.
        return sum(replicas.values()) == 1 or (self.role, self.index) == decider(replicas)

    def folder(self, *parts: str) -> str:
        path = os.path.join(self.workdir, *parts)
        os.makedirs(path, exist_ok=True)
        return path

    def environment(self, spec: dict, model_dir: str) -> dict[str, str]:
        """The HUBML_* variables of the contract; non-deciding replicas get scratch folders."""
        decides = self.is_decider(replicas_of(spec))
        scratch = ("scratch", self.name)
        return {
            "HUBML_MODEL_DIR": model_dir,
            "HUBML_CHECKPOINT_DIR": self.folder("checkpoints"),
            "HUBML_TENSORBOARD_DIR": self.folder("tensorboard") if decides else self.folder(*scratch, "tensorboard"),
            "HUBML_HPARAMS": json.dumps(spec.get("hparams", {})),
            "HUBML_METRICS_FILE": os.path.join(self.workdir, "metrics.jsonl") if decides
            else os.path.join(self.folder(*scratch), "metrics.jsonl"),
        }


def replicas_of(spec: dict) -> dict[str, int]:
    return {"chief": int(spec.get("chief", False)), "worker": spec.get("workers", 1), "ps": spec.get("ps", 0)}
