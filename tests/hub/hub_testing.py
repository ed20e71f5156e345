"""Helpers the hub tests share: where the repository is, the chart's hub on the real cluster.

A module of its own (not conftest.py) because every test folder has a
conftest.py, and `from conftest import ...` would pick whichever came first.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # `hub_config` is a folder of the repo, not an installed package


# --- the chart on the real cluster (test_hub_cluster.py, test_hub_release.py) ------------------------------

# The first spawn provisions a volume (a helper pod) before the notebook starts.
SPAWN_SECONDS = 300.0


def notebook_pod(admin: Any, namespace: str) -> Any:
    from kubernetes import client as k8s

    (pod,) = k8s.CoreV1Api(admin).list_namespaced_pod(namespace, label_selector="component=singleuser-server").items
    return pod


def run_in(admin: Any, namespace: str, command: list[str], timeout: float) -> str:
    """A command in the user's notebook container, as `kubectl exec` runs it; its output, or a failure with it."""
    from kubernetes import client as k8s
    from kubernetes.stream import stream

    pod = notebook_pod(admin, namespace)
    session = stream(k8s.CoreV1Api(admin).connect_get_namespaced_pod_exec, pod.metadata.name, namespace,
                     command=command, container="notebook", stdout=True, stderr=True, stdin=False, tty=False,
                     _preload_content=False)
    session.run_forever(timeout=timeout)
    returncode = session.returncode  # first: read_all() empties every channel, the exit status's too
    output = session.read_all()
    assert returncode == 0, f"{' '.join(command)} exited {returncode}:\n{output[-4000:]}"
    return output


def forget(hub: Any, admin: Any, user: str) -> None:
    """Stop and delete the hub's user, and their namespace with everything in it."""
    import cluster_testing

    if hub.user(user)["servers"]:
        hub.stop(user, SPAWN_SECONDS)
    hub.request("DELETE", f"users/{user}")
    cluster_testing.delete_namespace(admin, f"hubml-{user}")


def upload_notebook(api: Any, user: str, name: str, *cells: str) -> None:
    import json

    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    upload = {"type": "notebook", "format": "json", "content": json.loads(nbformat.writes(notebook))}
    assert api.server(user, f"api/contents/{name}", "PUT", json=upload).status_code in (200, 201)


def progress_until(hub: Any, user: str, needle: str, timeout: float) -> list[str]:
    """The messages of the user's spawn progress stream (what the hub's spawn page shows), read until one
    contains `needle`; an AssertionError with all of them otherwise."""
    import json
    import time

    deadline, messages = time.monotonic() + timeout, []
    # The hub writes a keep-alive every few seconds, so a read returns well within the request's timeout.
    with hub.request("GET", f"users/{user}/server/progress", stream=True) as response:
        response.raise_for_status()
        for line in response.iter_lines(decode_unicode=True):
            if line.startswith("data:"):
                event = json.loads(line[len("data:"):])
                messages.append(event.get("message", ""))
                if needle in messages[-1]:
                    return messages
                if event.get("failed") or event.get("ready"):
                    break
            if time.monotonic() > deadline:
                break
    raise AssertionError(f"no spawn progress message with {needle!r} within {timeout} s: {messages}")


def as_quantities(quota: dict[str, str]) -> dict[str, Any]:
    """A quota's values as numbers, so `2Gi` and `2147483648` compare equal, as the API server means them."""
    from kubernetes.utils import parse_quantity

    return {key: parse_quantity(value) for key, value in quota.items()}


def quota_in(admin: Any, namespace: str) -> dict[str, Any]:
    """The hard limits of hubml's ResourceQuota in `namespace`, as numbers."""
    from kubernetes import client as k8s

    from hubml.backends.kubernetes import tenancy

    return as_quantities(k8s.CoreV1Api(admin).read_namespaced_resource_quota(tenancy.QUOTA_NAME, namespace).spec.hard)
