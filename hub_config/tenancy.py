"""Per-user namespaces on Kubernetes: what the hub writes before a notebook starts.

Each user works in namespace `hubml-<user>` (KubeSpawner's `user_namespace_template`).
Before their pod starts the hub makes sure that namespace holds:

- ServiceAccount `hubml-notebook`, which the notebook pod runs as, and
  `hubml-job`, bound to nothing and without a token, for job and endpoint pods;
- Role and RoleBinding `hubml-notebook`: jobs, pods, pods/log, services,
  deployments and configmaps in that namespace only, secrets read-only, so
  `%%train` and `%deploy` can act there and nowhere else;
- ResourceQuota `hubml-quota` from the chosen profile's `quota`, which also
  bounds the training jobs launched from the notebook;
- Secret `hubml-storage` with the user's S3 keys, copied from the hub's
  namespace (`<shared>-<user>` if the admin made one, else the shared Secret
  `$HUBML_STORAGE_SECRET`, by default `hubml-storage`); the pod reads it
  through `secretKeyRef`, never inline.

These are the objects of the Kubernetes backend's `namespace_manifests`
(hubml/backends/kubernetes/tenancy.py), built here again because the hub image
carries no TensorFlow and so no `hubml`; tests/hub checks the two agree. The
`hubml.io/user` label is the JupyterHub user name, which the hub's username
pattern keeps a valid label value. The builders are pure functions;
`ensure_user_namespace` is the pre-spawn hook that applies them.
"""
from __future__ import annotations

import os
from typing import Any

NOTEBOOK_ACCOUNT = "hubml-notebook"
JOB_ACCOUNT = "hubml-job"
QUOTA_NAME = "hubml-quota"
STORAGE_SECRET = "hubml-storage"
STORAGE_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
USER_LABEL = "hubml.io/user"
ALL_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
READ_VERBS = ["get", "list", "watch"]

# What a notebook may do in its own namespace (issue 4, "Tenancy").
NOTEBOOK_RULES: list[dict[str, Any]] = [
    {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": ALL_VERBS},
    {"apiGroups": [""], "resources": ["pods", "services", "configmaps"], "verbs": ALL_VERBS},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ALL_VERBS},
    {"apiGroups": [""], "resources": ["secrets", "resourcequotas"], "verbs": READ_VERBS},
]


def _metadata(name: str, namespace: str, user_label: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "labels": {USER_LABEL: user_label, "app.kubernetes.io/managed-by": "hubml-hub"},
    }


def service_account(name: str, namespace: str, user_label: str, mount_token: bool = True) -> dict[str, Any]:
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata(name, namespace, user_label)}
    if not mount_token:
        account["automountServiceAccountToken"] = False
    return account


def notebook_role(namespace: str, user_label: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _metadata(NOTEBOOK_ACCOUNT, namespace, user_label),
        "rules": NOTEBOOK_RULES,
    }


def notebook_role_binding(namespace: str, user_label: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _metadata(NOTEBOOK_ACCOUNT, namespace, user_label),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NOTEBOOK_ACCOUNT},
        "subjects": [{"kind": "ServiceAccount", "name": NOTEBOOK_ACCOUNT, "namespace": namespace}],
    }


def resource_quota(namespace: str, user_label: str, hard: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": _metadata(QUOTA_NAME, namespace, user_label),
        "spec": {"hard": dict(hard)},
    }


def storage_secret(namespace: str, user_label: str, data: dict[str, str]) -> dict[str, Any]:
    """The user's S3 keys; `data` holds base64 values exactly as read from the source Secret."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": _metadata(STORAGE_SECRET, namespace, user_label),
        "data": {key: data[key] for key in STORAGE_KEYS if key in data},
    }


def tenancy_manifests(namespace: str, user_label: str, quota: dict[str, str]) -> list[dict[str, Any]]:
    """Everything but the Secret, in the order they must be applied."""
    objects = [
        service_account(NOTEBOOK_ACCOUNT, namespace, user_label),
        service_account(JOB_ACCOUNT, namespace, user_label, mount_token=False),
        notebook_role(namespace, user_label),
        notebook_role_binding(namespace, user_label),
    ]
    if quota:
        objects.append(resource_quota(namespace, user_label, quota))
    return objects


def storage_env(secret_name: str = STORAGE_SECRET) -> dict[str, Any]:
    """KubeSpawner `environment` entries that read the S3 keys from the user's Secret."""
    return {
        key: {"valueFrom": {"secretKeyRef": {"name": secret_name, "key": key, "optional": True}}}
        for key in STORAGE_KEYS
    }


async def ensure_user_namespace(spawner: Any, quota: dict[str, str]) -> None:
    """Create or update the user's namespace objects through KubeSpawner's API client.

    Runs as the spawner's pre-spawn hook, before KubeSpawner creates the pod.
    """
    from kubespawner.clients import shared_client

    core = shared_client("CoreV1Api")
    rbac = shared_client("RbacAuthorizationV1Api")
    namespace = spawner.namespace
    user_label = spawner.user.name
    await _create_or_keep(core.create_namespace, None, {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": namespace, "labels": {USER_LABEL: user_label}},
    })
    creators = {
        "ServiceAccount": (core.create_namespaced_service_account, None),
        "Role": (rbac.create_namespaced_role, rbac.replace_namespaced_role),
        "RoleBinding": (rbac.create_namespaced_role_binding, rbac.replace_namespaced_role_binding),
        "ResourceQuota": (core.create_namespaced_resource_quota, core.replace_namespaced_resource_quota),
        "Secret": (core.create_namespaced_secret, core.replace_namespaced_secret),
    }
    objects = tenancy_manifests(namespace, user_label, quota)
    keys = await _read_storage_keys(core, user_label)
    if keys:
        objects.append(storage_secret(namespace, user_label, keys))
    for manifest in objects:
        create, replace = creators[manifest["kind"]]
        await _create_or_keep(create, replace, manifest, namespace)


async def _read_storage_keys(core: Any, user_label: str) -> dict[str, str]:
    """The user's own Secret in the hub's namespace, else the shared one, else none."""
    from kubernetes_asyncio.client.rest import ApiException

    hub_namespace = os.environ.get("POD_NAMESPACE", "default")
    shared = os.environ.get("HUBML_STORAGE_SECRET") or STORAGE_SECRET  # the chart's storage.s3.existingSecret
    for name in (f"{shared}-{user_label}", shared):
        try:
            secret = await core.read_namespaced_secret(name, hub_namespace)
        except ApiException as error:
            if error.status == 404:
                continue
            raise
        return dict(secret.data or {})
    return {}


async def _create_or_keep(create: Any, replace: Any, manifest: dict[str, Any], namespace: str | None = None) -> None:
    """Create; if it exists, replace it when it can change (Role, quota), else keep it."""
    from kubernetes_asyncio.client.rest import ApiException

    args = (namespace, manifest) if namespace else (manifest,)
    try:
        await create(*args)
    except ApiException as error:
        if error.status != 409:
            raise
        if replace is not None:
            await replace(manifest["metadata"]["name"], namespace, manifest)
