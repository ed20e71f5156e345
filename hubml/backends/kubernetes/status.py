"""A job's state, read off its record (a ConfigMap), its Jobs, its pods and events, decided as TFJob decides.

The chief (or worker 0 without a chief) decides: its index completing is
success, whatever the `ps` (which never exit by themselves) are doing. Any
role's Job failing (a code error matched by the pod failure policy, retries
used up, the deadline) fails the whole job. A pod that cannot start says why
(hubml/backends/kubernetes/problems.py): a job none of whose pods can ever
start is FAILED at once, one waiting for room (quota, nodes) stays PENDING
with the reason. Once hubml has seen a job end it writes the outcome into the
record; the replicas also leave it in storage (`outcome.json`), so a job nobody
watched still reads its true end after its Jobs are gone.
"""
from __future__ import annotations

import json
import re
import time
from datetime import datetime
from typing import Any, Iterable

from hubml.backends.base import (CANCELLED, ENDPOINT_FAILED, ENDPOINT_PENDING, ENDPOINT_READY, FAILED, FINAL_STATES,
                                 PENDING, RUNNING, SUCCEEDED, JobRecord)
from hubml.backends.kubernetes.problems import creation_problem, first_problem
from hubml.specs import TrainSpec
from hubml.tfconfig import decider

STATE, REASON, EXIT_CODE = "hubml.io/state", "hubml.io/reason", "hubml.io/exit-code"
STARTED_AT, FINISHED_AT, ATTEMPT = "hubml.io/started-at", "hubml.io/finished-at", "hubml.io/attempt"
# After this long without its Jobs or an outcome, a job whose end hubml never saw is reported lost, not PENDING.
MISSING_JOBS_GRACE_SECONDS = 120.0


def job_record(record: dict[str, Any], role_jobs: dict[str, dict[str, Any]], pods: Iterable[dict[str, Any]] = (),
               events: Iterable[dict[str, Any]] = (), outcome: dict[str, Any] | None = None,
               now: float | None = None) -> JobRecord:
    """The `JobRecord` of one job: `record` is its ConfigMap, `role_jobs` its Jobs by role, `pods` and `events`
    its pods and the namespace's warning events, `outcome` what its replicas stored (if read)."""
    annotations = record["metadata"].get("annotations") or {}
    spec = json.loads(record["data"]["spec.json"])
    job = JobRecord(id=record["metadata"]["name"], name=spec["name"], user=annotations.get("hubml.io/user", ""),
                    backend="kubernetes", spec=spec, submitted_at=float(annotations["hubml.io/submitted-at"]))
    if annotations.get(STATE) in FINAL_STATES:
        job.state, job.reason = annotations[STATE], annotations.get(REASON, "")
        job.exit_code = int(annotations[EXIT_CODE]) if annotations.get(EXIT_CODE) else None
        job.started_at = float(annotations[STARTED_AT]) if annotations.get(STARTED_AT) else None
        job.finished_at = float(annotations[FINISHED_AT])
        job.attempt = int(annotations.get(ATTEMPT) or 1)
        return job
    replicas = TrainSpec.from_dict(spec).replicas
    job.attempt = attempt_of(replicas, role_jobs, outcome)
    job.started_at = min((timestamp(each["status"]["startTime"]) for each in role_jobs.values()
                          if each.get("status", {}).get("startTime")), default=None)
    job.state, job.reason, job.exit_code, job.finished_at = decide(spec, role_jobs, list(pods), list(events), outcome,
                                                                  job.submitted_at, now)
    return job


def attempt_of(replicas: dict[str, int], role_jobs: dict[str, dict[str, Any]], outcome: dict[str, Any] | None) -> int:
    """Each attempt lost ends one pod of every index (hubml.runtime.k8s_entry): count them per role."""
    if outcome and outcome.get("attempt"):
        return int(outcome["attempt"])
    failed = [int(job.get("status", {}).get("failed") or 0) // replicas[role] for role, job in role_jobs.items()
              if role in replicas]
    return 1 + max(failed, default=0)


def decide(spec: dict[str, Any], role_jobs: dict[str, dict[str, Any]], pods: list[dict[str, Any]],
           events: list[dict[str, Any]], outcome: dict[str, Any] | None, submitted_at: float,
           now: float | None) -> tuple[str, str, int | None, float | None]:
    """(state, reason, exit code, finished at) from the Jobs' conditions and counts, pods, events and outcome."""
    replicas = TrainSpec.from_dict(spec).replicas
    for role, job in role_jobs.items():
        condition = failure_condition(job)
        if condition is not None:
            reason, code = describe_failure(role, condition, spec)
            if outcome and outcome.get("state") == FAILED:  # the replica's own words are more precise
                reason, code = outcome["reason"], outcome.get("exit_code")
            return FAILED, reason, code, timestamp(condition.get("lastTransitionTime"))
    role, index = decider(replicas)
    deciding = role_jobs.get(role)
    if deciding is not None and index in completed_indexes(deciding):
        finished = deciding["status"].get("completionTime") or \
            (success_condition(deciding) or {}).get("lastTransitionTime")
        return SUCCEEDED, "", 0, timestamp(finished)
    if set(replicas) - set(role_jobs):
        if outcome:
            return outcome["state"], outcome.get("reason", ""), outcome.get("exit_code"), outcome.get("finished_at")
        if (now or time.time()) - submitted_at > MISSING_JOBS_GRACE_SECONDS:
            return FAILED, "its Jobs are gone (expired or deleted outside hubml) before hubml saw it end", None, \
                now or time.time()
        return PENDING, "", None, None
    problem = first_problem(pods) or next(filter(None, (creation_problem(events, "Job", job["metadata"]["name"])
                                                         for job in role_jobs.values())), None)
    if problem is not None and problem.permanent:
        return FAILED, problem.reason, None, now or time.time()
    reason = problem.reason if problem else ""
    if any(int(job.get("status", {}).get("ready") or 0) for job in role_jobs.values()):
        return RUNNING, reason, None, None
    return PENDING, reason, None, None


def endpoint_state(deployment: dict[str, Any], pods: Iterable[dict[str, Any]] = (),
                   events: Iterable[dict[str, Any]] = ()) -> tuple[str, str]:
    """READY once every replica is ready; FAILED as soon as a pod or the Deployment shows it cannot get there."""
    wanted = deployment["spec"].get("replicas", 1)
    observed = deployment.get("status") or {}
    ready = int(observed.get("readyReplicas") or 0)
    if ready >= wanted:
        return ENDPOINT_READY, ""
    for condition in observed.get("conditions") or []:
        failed = (condition.get("type") == "Progressing" and condition.get("status") == "False") or \
                 (condition.get("type") == "ReplicaFailure" and condition.get("status") == "True")
        if failed:
            return ENDPOINT_FAILED, condition.get("message") or condition.get("reason", "")
    pods = list(pods)
    problem = first_problem(pods) or next(filter(None, (creation_problem(events, "ReplicaSet", owner)
                                                         for owner in _replica_sets(pods))), None)
    # Nobody waits for an endpoint that may never come: whatever keeps its pods from running fails it.
    if problem is not None and not problem.passes_by_itself:
        return ENDPOINT_FAILED, problem.reason
    return ENDPOINT_PENDING, f"{ready}/{wanted} replicas ready"


def _replica_sets(pods: list[dict[str, Any]]) -> set[str]:
    return {reference["name"] for pod in pods for reference in pod["metadata"].get("ownerReferences") or []
            if reference.get("kind") == "ReplicaSet"}


def failure_condition(job: dict[str, Any]) -> dict[str, Any] | None:
    """The Job's Failed condition, or FailureTarget, which the controller sets first (1.31+)."""
    for condition in job.get("status", {}).get("conditions") or []:
        if condition.get("type") in ("Failed", "FailureTarget") and condition.get("status") == "True":
            return condition
    return None


def success_condition(job: dict[str, Any]) -> dict[str, Any] | None:
    """The Job's Complete condition, or SuccessCriteriaMet, which the controller sets first (1.31+)."""
    for condition in job.get("status", {}).get("conditions") or []:
        if condition.get("type") in ("Complete", "SuccessCriteriaMet") and condition.get("status") == "True":
            return condition
    return None


def describe_failure(role: str, condition: dict[str, Any], spec: dict[str, Any]) -> tuple[str, int | None]:
    reason, message = condition.get("reason", ""), condition.get("message", "")
    match = re.search(r"exit code (\d+)", message)
    code = int(match.group(1)) if match else None
    if reason == "DeadlineExceeded":
        return f"timed out after {spec['timeout']:g} s", code
    if reason == "PodFailurePolicy" and code is not None:
        return f"a {role} replica exited with code {code}: a code error, not retried", code
    if reason in ("BackoffLimitExceeded", "FailedIndexes", "MaxFailedIndexesExceeded"):
        attempts = spec.get("retries", 0) + 1
        return f"{role} replicas failed {attempts} time{'s' if attempts > 1 else ''}, the retries allowed", code
    return f"{role}: {reason}: {message}".rstrip(": "), code


def completed_indexes(job: dict[str, Any]) -> set[int]:
    """`status.completedIndexes` ("0,2-4") as a set; a whole completed non-indexed Job counts as index 0."""
    text = job.get("status", {}).get("completedIndexes") or ""
    indexes: set[int] = set()
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        indexes.update(range(int(first), int(last or first) + 1))
    if not indexes and success_condition(job):
        indexes.add(0)
    return indexes


def final_annotations(job: JobRecord) -> dict[str, str]:
    """What the record keeps of a job hubml saw end."""
    return {STATE: job.state, REASON: job.reason, EXIT_CODE: "" if job.exit_code is None else str(job.exit_code),
            STARTED_AT: "" if job.started_at is None else repr(job.started_at),
            FINISHED_AT: repr(job.finished_at or time.time()), ATTEMPT: str(job.attempt)}


def cancelled(job: JobRecord) -> JobRecord:
    job.state, job.reason, job.exit_code, job.finished_at = CANCELLED, "cancelled by user", None, time.time()
    return job


def timestamp(text: str | None) -> float | None:
    """A Kubernetes time ("2026-11-27T09:00:00Z") as seconds since the epoch."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
