"""`LocalBackend`: the `Backend` primitives on top of the store, the supervisor and the log files."""
from __future__ import annotations

import dataclasses
import glob
import json
import os
import signal
import subprocess
import sys
import time
from typing import Iterator

from hubml import storage
from hubml.backends.base import CANCELLED, FAILED, Backend, JobRecord, LogLine
from hubml.backends.local.endpoints import LocalEndpoints
from hubml.backends.local.memory_limits import remove_leftovers
from hubml.backends.log_files import read_logs
from hubml.backends.local.store import LOST_SUPERVISOR, Store, running_total, shortfall
from hubml.backends.local.supervisor import STOP_GRACE_SECONDS
from hubml.exceptions import InvalidArgument
from hubml.extras import require
from hubml.processes import supervisor_alive
from hubml.specs import TrainSpec

RECORD_FIELDS = ("id", "name", "user", "backend", "spec", "state", "reason", "exit_code", "attempt",
                 "submitted_at", "started_at", "finished_at")


class LocalBackend(Backend):
    name = "local"

    def __init__(self, settings):
        super().__init__(settings)
        self.store = Store(settings.home)
        self.capacity = machine_capacity(settings)
        self.served = LocalEndpoints(settings, self.store)

    # --- primitives ------------------------------------------------------------------

    def _check_capacity(self, spec: TrainSpec) -> None:
        options = {"cpu": "--cpu", "memory": "--memory", "gpus": "--gpus"}
        for key, value in self._demand(spec).items():
            if value > self.capacity[key]:
                raise InvalidArgument(options[key], f"the job asks for {value:g} {key} in all, more than this "
                                      f"machine's capacity of {self.capacity[key]:g}; it could never start")

    def _submit(self, record: JobRecord) -> JobRecord:
        job_dir = self.job_dir(record.id)
        os.makedirs(job_dir, exist_ok=True)
        row = {name: getattr(record, name) for name in RECORD_FIELDS}
        spec = TrainSpec.from_dict(record.spec)
        self.store.insert_job({**row, "demand": self._demand(spec)})
        environment = {**os.environ, **self.settings.as_environment(), "HUBML_JOB_ID": record.id,
                       "HUBML_JOB_URL": self.job_url(record.id), "HUBML_JOB_DIR": job_dir,
                       "HUBML_CAPACITY": json.dumps(self.capacity),
                       "HUBML_REPLICA_MEMORY": str(self.settings.default_resources(spec.resources).memory or 0)}
        with open(os.path.join(job_dir, "supervisor.log"), "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "hubml.backends.local.supervisor", self.settings.home, record.id],
                env=environment, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, close_fds=True)
        self.store.update_job(record.id, supervisor_pid=process.pid)
        return self.job(record.id)

    def _job(self, job_id: str) -> JobRecord | None:
        row = self.store.job(job_id)
        return self._record(row) if row else None

    def _jobs(self) -> list[JobRecord]:
        return [self._record(row) for row in self.store.jobs()]

    def _cancel(self, record: JobRecord) -> JobRecord:
        # Final first: the supervisor's own last word is conditional and cannot overwrite it.
        self.store.update_job(record.id, state=CANCELLED, reason="cancelled by user", finished_at=time.time())
        pid = self.store.job(record.id)["supervisor_pid"]
        if pid and supervisor_alive(pid, record.id):
            os.kill(pid, signal.SIGTERM)
            deadline = time.time() + STOP_GRACE_SECONDS + 5
            while time.time() < deadline and supervisor_alive(pid, record.id):
                time.sleep(0.05)
            if supervisor_alive(pid, record.id):
                os.killpg(pid, signal.SIGKILL)
        return self.job(record.id)

    def _logs(self, record: JobRecord, follow: bool, cursor: dict | None) -> Iterator[LogLine]:
        root = os.path.join(self.job_dir(record.id), "logs")
        return read_logs(root, follow, lambda: self.job(record.id).final, cursor)

    def _deploy(self, spec) -> dict:
        require("serve", "an endpoint on the local backend (it runs hubml serve)")
        return self.served.deploy(spec)

    def _endpoint(self, name: str) -> dict | None:
        return self.served.endpoint(name)

    def _endpoints(self) -> list[dict]:
        return self.served.endpoints()

    def _undeploy(self, name: str) -> None:
        self.served.undeploy(name)

    def _quota(self) -> list[dict]:
        """The capacity against what RUNNING jobs hold, and how many queued jobs wait for more than is free."""
        used = running_total(self.store.jobs(states=("RUNNING",)))
        waiting = {key: 0 for key in self.capacity}
        for row in self.store.jobs(states=("PENDING",)):
            for key in shortfall(row["demand"], used, self.capacity):
                waiting[key] = waiting.get(key, 0) + 1
        return [{"resource": key, "used": used.get(key, 0.0), "limit": limit, "source": "local capacity",
                 "waiting": waiting[key]} for key, limit in self.capacity.items()]

    def _demand(self, spec: TrainSpec) -> dict[str, float]:
        """What the job holds while it runs, the default request filled in where it names none.

        A defaulted total larger than the machine (many replicas) is capped at
        the machine: defaults shape the queue but never make a job impossible,
        it then runs alone. What the user named is taken as asked.
        """
        demand = demand_of(dataclasses.replace(spec, resources=self.settings.default_resources(spec.resources)))
        for key, named in (("cpu", spec.resources.cpu), ("memory", spec.resources.memory)):
            if named is None:
                demand[key] = min(demand[key], self.capacity[key])
        return demand

    # --- helpers ---------------------------------------------------------------------

    def job_dir(self, job_id: str) -> str:
        """Where this machine writes the job's logs: the job folder itself on file:// storage."""
        url = self.job_url(job_id)
        return storage.local_path(url) if storage.is_local(url) else os.path.join(self.settings.home, "jobs", job_id)

    def _record(self, row: dict) -> JobRecord:
        pid = row["supervisor_pid"]
        if row["state"] in ("PENDING", "RUNNING") and pid and not supervisor_alive(pid, row["id"]):
            # The supervisor died without a word (machine reboot, SIGKILL): say so instead of RUNNING forever.
            if self.store.update_job(row["id"], state=FAILED, reason=LOST_SUPERVISOR,
                                     finished_at=time.time()):
                remove_leftovers(row["id"])
                row = self.store.job(row["id"])
        return JobRecord(**{name: row[name] for name in RECORD_FIELDS})


def machine_capacity(settings) -> dict[str, float]:
    """What jobs may use at once: configured, else all of this machine."""
    from hubml.specs import parse_memory

    memory = parse_memory(settings.capacity_memory or None, "capacity_memory")
    return {
        "cpu": settings.capacity_cpu or float(os.cpu_count() or 1),
        "memory": float(memory or os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")),
        "gpus": float(settings.capacity_gpus if settings.capacity_gpus >= 0 else len(glob.glob("/dev/nvidia[0-9]*"))),
    }


def demand_of(spec: TrainSpec) -> dict[str, float]:
    """The resources a job holds while it runs: what each replica requests, times the replicas."""
    count = sum(spec.replicas.values())
    resources = spec.resources
    return {"cpu": (resources.cpu or 0) * count, "memory": float((resources.memory or 0) * count),
            "gpus": float(resources.gpus * count)}
