"""Per-user namespaces on Kubernetes: the hub's pre-spawn hook that writes them before a notebook starts.

Each user works in namespace `hubml-<user>` (KubeSpawner's `user_namespace_template`). What that
namespace holds (ServiceAccounts, Role, RoleBinding, NetworkPolicies, ResourceQuota, LimitRange, the storage Secret) is
defined once, in hubml/backends/kubernetes/tenancy.py, which `hubml` and its tests also use; here it is
applied through KubeSpawner's own API client. The storage keys are copied from the hub's namespace:
`<shared>-<user>` if the admin made one, else the shared Secret `$HUBML_STORAGE_SECRET` (by default
`hubml-storage`); the notebook pod reads them through `secretKeyRef`, never inline.
"""
from __future__ import annotations

import base64
import os
from typing import Any

from hubml.backends.kubernetes.tenancy import (NOTEBOOK_ACCOUNT, STORAGE_SECRET, USER_LABEL, namespace_manifests,
                                               namespace_object, storage_secret)

__all__ = ["NOTEBOOK_ACCOUNT", "USER_LABEL", "ensure_user_namespace", "storage_env"]
STORAGE_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def storage_env(secret_name: str = STORAGE_SECRET) -> dict[str, Any]:
    """KubeSpawner `environment` entries that read the S3 keys from the user's Secret."""
    return {key: {"valueFrom": {"secretKeyRef": {"name": secret_name, "key": key, "optional": True}}}
            for key in STORAGE_KEYS}


async def ensure_user_namespace(spawner: Any, quota: dict[str, str]) -> None:
    """Create the user's namespace objects, or bring those that can change (Role, quota, defaults, Secret)
    up to date. Runs as the spawner's pre-spawn hook, before KubeSpawner creates the pod."""
    from kubespawner.clients import shared_client

    core = shared_client("CoreV1Api")
    rbac = shared_client("RbacAuthorizationV1Api")
    networking = shared_client("NetworkingV1Api")
    namespace, user = spawner.namespace, spawner.user.name
    await _create_or_keep(core.create_namespace, None, namespace_object(namespace, user))
    writers = {
        "ServiceAccount": (core.create_namespaced_service_account, None),
        "Role": (rbac.create_namespaced_role, rbac.replace_namespaced_role),
        "RoleBinding": (rbac.create_namespaced_role_binding, rbac.replace_namespaced_role_binding),
        "NetworkPolicy": (networking.create_namespaced_network_policy, networking.replace_namespaced_network_policy),
        "ResourceQuota": (core.create_namespaced_resource_quota, core.replace_namespaced_resource_quota),
        "LimitRange": (core.create_namespaced_limit_range, core.replace_namespaced_limit_range),
        "Secret": (core.create_namespaced_secret, core.replace_namespaced_secret),
    }
    objects = namespace_manifests(namespace, user, quota or None, hub_namespace=_hub_namespace())
    keys = await _read_storage_keys(core, user)
    if keys:
        if os.environ.get("AWS_ENDPOINT_URL"):  # the chart's storage.s3.endpoint: job pods read it from here too
            keys["AWS_ENDPOINT_URL"] = os.environ["AWS_ENDPOINT_URL"]
        objects.append(storage_secret(namespace, user, keys))
    for manifest in objects:
        create, replace = writers[manifest["kind"]]
        await _create_or_keep(create, replace, manifest, namespace)


async def _read_storage_keys(core: Any, user: str) -> dict[str, str]:
    """The user's own Secret in the hub's namespace, else the shared one, else none (decoded)."""
    from kubernetes_asyncio.client.rest import ApiException

    hub_namespace = _hub_namespace()
    shared = os.environ.get("HUBML_STORAGE_SECRET") or STORAGE_SECRET  # the chart's storage.s3.existingSecret
    for name in (f"{shared}-{user}", shared):
        try:
            secret = await core.read_namespaced_secret(name, hub_namespace)
        except ApiException as error:
            if error.status == 404:
                continue
            raise
        return {key: base64.b64decode(value).decode() for key, value in (secret.data or {}).items()
                if key in STORAGE_KEYS}
    return {}


def _hub_namespace() -> str:
    return os.environ.get("POD_NAMESPACE", "default")


async def _create_or_keep(create: Any, replace: Any, manifest: dict[str, Any], namespace: str | None = None) -> None:
    """Create; if it exists, replace it when it can change, else keep it."""
    from kubernetes_asyncio.client.rest import ApiException

    args = (namespace, manifest) if namespace else (manifest,)
    try:
        await create(*args)
    except ApiException as error:
        if error.status != 409:
            raise
        if replace is not None:
            await replace(manifest["metadata"]["name"], namespace, manifest)
