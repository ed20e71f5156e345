"""Scheduled batch runs (`hubml run --schedule CRON`): a `batch/v1` CronJob beside the job manifests.

    a CronJob `<name>`, labelled hubml.io/schedule=<name>, whose Job template is a one-replica hubml job

The bundle is stored once, at `{storage}/schedules/{name}/bundle`. Each run is
a Job the CronJob controller names `<name>-<minutes>`; its pod reads that name
from its own `batch.kubernetes.io/job-name` label (downward API) as its job id,
copies the bundle to `{storage}/jobs/{id}/bundle` (`hubml.batch.scheduled`),
then runs the runtime as any job does, so every run has its own job folder,
logs and output notebook. Runs carry no hubml record (the pods have no API
rights to write one): find them with `kubectl get jobs -l hubml.io/schedule=<name>`
and their outputs under `{storage}/jobs/`.
"""
from __future__ import annotations

import json
import re
from typing import Any

from hubml import bundle, storage
from hubml.backends.kubernetes import manifests
from hubml.backends.kubernetes.manifests import USER_LABEL, Target, label_value
from hubml.exceptions import InvalidArgument
from hubml.specs import TrainSpec

SCHEDULE_LABEL = "hubml.io/schedule"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
# The CronJob controller appends "-" and up to 11 digits to name each run's Job (at most 63 characters).
MAX_SCHEDULE_NAME = 52
CRON_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?-]+$")
ENTRY = ["python3", "-m", "hubml.batch.scheduled"]
HISTORY_LIMIT = 3


def check_cron(cron: str) -> str:
    """Five cron fields (minute hour day-of-month month day-of-week) or a macro such as @daily."""
    fields = cron.split() if isinstance(cron, str) else []
    if (len(fields) == 1 and fields[0] in CRON_MACROS) or (len(fields) == 5 and all(map(CRON_FIELD.match, fields))):
        return " ".join(fields)
    raise InvalidArgument("--schedule", f"{cron!r} is not a cron schedule: give five fields (minute hour "
                          "day-of-month month day-of-week), e.g. '0 6 * * *', or @hourly/@daily/@weekly/@monthly")


def schedule_url(name: str, target: Target) -> str:
    return storage.join(target.storage, "schedules", name)


def cron_job(name: str, spec: TrainSpec, cron: str, target: Target) -> dict[str, Any]:
    """The CronJob running `spec` (one replica) on `cron`; `name` is the schedule's (and its runs') stem."""
    if len(name) > MAX_SCHEDULE_NAME:
        raise InvalidArgument("--name", f"a schedule's name is at most {MAX_SCHEDULE_NAME} characters")
    if spec.replicas != {"worker": 1}:
        raise InvalidArgument("--workers", "a scheduled run has one replica")
    labels = {SCHEDULE_LABEL: name, **manifests.user_labels(spec)}
    job = manifests.role_job(name, spec, "worker", 1, target)
    template = job["spec"]["template"]
    template["metadata"]["labels"] = {USER_LABEL: label_value(target.user), **labels}
    run_each_time(template["spec"], name, target)
    metadata = {"name": name, "namespace": target.namespace, "labels": {USER_LABEL: label_value(target.user),
                                                                         **labels},
                "annotations": {"hubml.io/spec": json.dumps(spec.to_dict(), default=str)}}
    return {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": metadata,
        "spec": {"schedule": check_cron(cron), "concurrencyPolicy": "Forbid",
                 "successfulJobsHistoryLimit": HISTORY_LIMIT, "failedJobsHistoryLimit": HISTORY_LIMIT,
                 "jobTemplate": {"metadata": {"labels": labels}, "spec": job["spec"]}},
    }


def run_each_time(pod: dict[str, Any], name: str, target: Target) -> None:
    """Turn a job's pod into a run's: its job id is its Job's name, its bundle is copied from the schedule's."""
    pod.pop("subdomain", None)  # one replica: no headless Service to be named under
    container = pod["containers"][0]
    container["command"] = list(ENTRY)
    environment = []
    for variable in container["env"]:
        if variable["name"] == "HUBML_JOB_ID":
            variable = {"name": "HUBML_JOB_ID",
                        "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{JOB_NAME_LABEL}']"}}}
        elif variable["name"] == "HUBML_JOB_URL":
            # $(HUBML_JOB_ID) is expanded by the kubelet: it is declared above this variable.
            variable = {"name": "HUBML_JOB_URL", "value": storage.join(target.storage, "jobs", "$(HUBML_JOB_ID)")}
        environment.append(variable)
    environment.append({"name": "HUBML_SCHEDULE_URL", "value": schedule_url(name, target)})
    container["env"] = environment


# --- on the cluster ---------------------------------------------------------------------


def create(backend: Any, spec: TrainSpec, cron: str) -> dict[str, Any]:
    """Store the bundle and create the CronJob in the backend's namespace; returns the CronJob as stored."""
    spec.validate()
    manifest = cron_job(spec.name, spec, cron, backend.target)
    bundle.publish(spec, schedule_url(spec.name, backend.target))
    return backend._call(backend.batch.create_namespaced_cron_job, backend.namespace, manifest)


def delete(backend: Any, name: str) -> None:
    """Remove a schedule (its past runs' folders stay in storage)."""
    backend._delete(backend.batch.delete_namespaced_cron_job, name)
    storage.remove(schedule_url(name, backend.target))


def schedules(backend: Any) -> list[dict[str, Any]]:
    """This user's CronJobs."""
    selector = f"{SCHEDULE_LABEL},{USER_LABEL}={label_value(backend.settings.user)}"
    return backend._call(backend.batch.list_namespaced_cron_job, backend.namespace, label_selector=selector)["items"]
