"""What the Kubernetes tests share besides fixtures: waiting, and looking at the cluster as its administrator.

A module of its own, since `from conftest import ...` resolves to whichever
test folder's conftest was imported first.
"""
from __future__ import annotations

import base64
import json
import urllib.request
from typing import Any, Callable

from kubernetes import client as k8s

import wait_helpers
from cluster import control_plane

# Pods start in seconds here, but a replica that imports TensorFlow takes tens of seconds on two shared cores.
POD_SECONDS = 180.0


def wait_for(condition: Callable[[], object], timeout: float = 60.0, what: str = "the condition") -> object:
    return wait_helpers.wait_for(condition, timeout, what, interval=0.1)


def api(admin: k8s.ApiClient, kind: str) -> Callable[..., Any]:
    """The namespaced list call for `kind`, returning plain dicts."""
    calls = {"pods": k8s.CoreV1Api(admin).list_namespaced_pod, "services": k8s.CoreV1Api(admin).list_namespaced_service,
             "configmaps": k8s.CoreV1Api(admin).list_namespaced_config_map,
             "events": k8s.CoreV1Api(admin).list_namespaced_event,
             "jobs": k8s.BatchV1Api(admin).list_namespaced_job,
             "cronjobs": k8s.BatchV1Api(admin).list_namespaced_cron_job,
             "deployments": k8s.AppsV1Api(admin).list_namespaced_deployment,
             "replicasets": k8s.AppsV1Api(admin).list_namespaced_replica_set}

    def listing(namespace: str, **selectors: str) -> list[dict[str, Any]]:
        response = calls[kind](namespace, _preload_content=False, **selectors)
        return json.loads(response.data)["items"]

    return listing


def left_of(admin: k8s.ApiClient, namespace: str, label: str) -> dict[str, list[str]]:
    """What still exists in `namespace` carrying `label` (a selector): names by kind, empty kinds left out."""
    found = {kind: [item["metadata"]["name"] for item in api(admin, kind)(namespace, label_selector=label)]
             for kind in ("jobs", "pods", "services", "deployments", "replicasets", "configmaps")}
    return {kind: names for kind, names in found.items() if names}


def pods_of(admin: k8s.ApiClient, namespace: str, job_id: str) -> list[dict[str, Any]]:
    return api(admin, "pods")(namespace, label_selector=f"hubml.io/job={job_id}")


class AuditLog:
    """The requests the API server received from one namespace's service accounts, from a mark on
    (the cluster's audit policy logs each once, as it arrives: cluster/configs.py)."""

    def __init__(self, namespace: str) -> None:
        self.account_prefix = f"system:serviceaccount:{namespace}:"
        self.path = control_plane.audit_log()
        self.mark()

    def mark(self) -> None:
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def requests(self) -> list[dict[str, Any]]:
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            events = [json.loads(line) for line in handle.read().splitlines() if line.strip()]
        return [event for event in events if event["user"]["username"].startswith(self.account_prefix)]


def compact_etcd() -> int:
    """Compact etcd's history up to its current revision, as the API server does every few minutes; returns it."""
    def call(path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(f"{control_plane.etcd_url()}{path}", json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    revision = int(call("/v3/kv/range", {"key": base64.b64encode(b"/").decode()})["header"]["revision"])
    call("/v3/kv/compaction", {"revision": str(revision), "physical": True})
    return revision


# Prints `before` lines, waits until the test opens its gate in storage, then prints `after` lines at once.
GATED = """
import os, time
from hubml import storage
for step in range({before}):
    print(f"{prefix} {{step}}", flush=True)
while not storage.exists(os.environ["HUBML_STORAGE"] + "/gates/" + os.environ["HUBML_JOB_ID"]):
    time.sleep(0.2)
for step in range({before}, {before} + {after}):
    print(f"{prefix} {{step}}", flush=True)
"""


def gated(before: int = 0, after: int = 0, prefix: str = "step") -> str:
    """Job code that holds until `open_gate`: the test, not a clock, decides when it goes on."""
    return GATED.format(before=before, after=after, prefix=prefix)


def open_gate(namespace, job_id: str) -> None:
    from hubml import storage

    storage.write_text(storage.join(namespace.storage_url, "gates", job_id), "open")
