"""Why a pod is not running, read off the objects the kubelet, the scheduler and the controllers write.

A Job or Deployment shows nothing of this: the scheduler writes `PodScheduled=False`
(Unschedulable) on the pod, the kubelet writes each container's waiting reason
(ErrImagePull, ImagePullBackOff, CrashLoopBackOff, ...), and a controller whose
pod the API server refused (quota exceeded) only says so in a `FailedCreate`
event on itself. Each problem is permanent (the same pod will not get past it:
an image that cannot be pulled, a container that keeps crashing) or one that
may pass (the quota or the nodes are full now).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

# Waiting reasons the kubelet gives a container that will not start by itself.
PERMANENT_WAITING = {
    "ErrImagePull": "its image cannot be pulled", "ImagePullBackOff": "its image cannot be pulled",
    "InvalidImageName": "its image name is invalid", "ErrImageNeverPull": "its image is not on the node",
    "CreateContainerConfigError": "its configuration is invalid", "CreateContainerError": "it cannot be created",
    "CrashLoopBackOff": "it keeps crashing",
}
# The kubelet's words when it could not read a Secret or ConfigMap yet, rather than never: it retries by itself.
TRANSIENT_CONFIG = re.compile(r"failed to sync (secret|configmap) cache")


@dataclass(frozen=True)
class Problem:
    reason: str
    permanent: bool
    passes_by_itself: bool = False  # the kubelet gets past it within seconds: nothing to fail for


def pod_problem(pod: dict[str, Any]) -> Problem | None:
    """What keeps this pod from running, or None if nothing does (yet)."""
    status = pod.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False" \
                and condition.get("reason") == "Unschedulable":
            return Problem(f"unschedulable: {condition.get('message', '').strip()}", permanent=False)
    containers = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
    for container in containers:
        waiting = (container.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason", "")
        if reason in PERMANENT_WAITING:
            message = waiting.get("message") or _last_exit(container)
            if reason == "CreateContainerConfigError" and TRANSIENT_CONFIG.search(message):
                # The kubelet has not yet been allowed to read a Secret the pod names (the Node authorizer
                # learns of new pods asynchronously); it retries, and the pod starts once it may.
                return Problem(f"container {container['name']} of pod {pod['metadata']['name']}: waiting for "
                               f"its configuration ({message})", permanent=False, passes_by_itself=True)
            return Problem(f"container {container['name']} of pod {pod['metadata']['name']}: "
                           f"{reason}: {PERMANENT_WAITING[reason]}" + (f" ({message})" if message else ""),
                           permanent=True)
    return None


def _last_exit(container: dict[str, Any]) -> str:
    terminated = (container.get("lastState") or {}).get("terminated") or {}
    if not terminated:
        return ""
    return f"last exit code {terminated.get('exitCode')}" + \
        (f", {terminated['reason']}" if terminated.get("reason") else "")


def creation_problem(events: Iterable[dict[str, Any]], kind: str, name: str) -> Problem | None:
    """The newest `FailedCreate` a controller reported on object `kind`/`name` (a quota refusing its pods)."""
    failures = [event for event in events if event.get("reason") == "FailedCreate"
                and (event.get("involvedObject") or {}).get("kind") == kind
                and (event.get("involvedObject") or {}).get("name") == name]
    if not failures:
        return None
    newest = max(failures, key=lambda event: event.get("lastTimestamp") or event.get("eventTime") or "")
    message = newest.get("message", "")
    # A full quota frees up as other work ends; anything else refused (Pod Security, say) is refused again.
    return Problem(f"{kind} {name} cannot create its pods: {message}", permanent="exceeded quota" not in message)


def first_problem(pods: Iterable[dict[str, Any]]) -> Problem | None:
    """The first permanent problem among `pods`, else the first that may pass, else None."""
    found = [problem for problem in map(pod_problem, pods) if problem is not None]
    return next((problem for problem in found if problem.permanent), found[0] if found else None)
