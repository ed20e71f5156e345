"""What the Kubernetes tests share besides fixtures: waiting, and looking at the cluster as its administrator.

A module of its own, since `from conftest import ...` resolves to whichever
test folder's conftest was imported first.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from kubernetes import client as k8s

import wait_helpers

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
