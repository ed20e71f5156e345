"""What tests on the real cluster share: a namespace per test, made as the hub makes a user's, and the
kubeconfig of that namespace's notebook service account, so every request the backend sends is
authorized by the namespace's real Role.

A module of its own (beside wait_helpers.py), since `from conftest import ...` resolves to whichever
test folder's conftest was imported first.
"""
from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s

from cluster import addons, layout, storage
from cluster.lifecycle import Cluster

NOTEBOOK_ACCOUNT = "hubml-notebook"
TOKEN_SECONDS = 3600


@dataclass
class UserNamespace:
    name: str
    user: str
    storage_url: str
    kubeconfig: Path
    api_client: k8s.ApiClient = field(repr=False)
    environment: dict[str, str] = field(default_factory=dict)

    def settings(self, home: Path, **overrides: Any):
        from hubml.config import Settings

        return Settings.resolve({"backend": "kubernetes", "home": str(home), "user": self.user,
                                 "namespace": self.name, "storage": self.storage_url, **overrides})


def namespace_name(test_name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", test_name.lower().removeprefix("test_")).strip("-")[:36].strip("-")
    return f"hubml-{slug}-{secrets.token_hex(2)}"


def make_user_namespace(cluster: Cluster, admin: k8s.ApiClient, name: str, user: str, folder: Path,
                        quota: dict[str, str] | None = None) -> UserNamespace:
    """A user namespace with hubml's tenancy objects and storage Secret, and a kubeconfig for its notebook."""
    keys = {key: cluster.environment[key] for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                                       "AWS_ENDPOINT_URL")}
    addons.user_namespace(admin, name, user, keys, quota)
    kubeconfig = write_token_kubeconfig(admin, cluster, name, NOTEBOOK_ACCOUNT, folder / f"{name}.kubeconfig")
    from kubernetes import config as kube_config

    api_client = kube_config.new_client_from_config(config_file=str(kubeconfig))
    storage_url = f"{storage.storage_url().rsplit('/', 1)[0]}/{name}"
    environment = {**cluster.environment, "KUBECONFIG": str(kubeconfig), "HUBML_NAMESPACE": name, "HUBML_USER": user,
                   "HUBML_STORAGE": storage_url}
    return UserNamespace(name, user, storage_url, kubeconfig, api_client, environment)


def write_token_kubeconfig(admin: k8s.ApiClient, cluster: Cluster, namespace: str, account: str, path: Path) -> Path:
    """A kubeconfig holding a service account's token (TokenRequest), as a pod of that account would have."""
    request = k8s.AuthenticationV1TokenRequest(spec=k8s.V1TokenRequestSpec(audiences=[],
                                                                           expiration_seconds=TOKEN_SECONDS))
    token = k8s.CoreV1Api(admin).create_namespaced_service_account_token(account, namespace, request).status.token
    authority = base64.b64encode((layout.STATE / "pki" / "ca.crt").read_bytes()).decode()
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "notebook",
        "clusters": [{"name": "hubml-test", "cluster": {"server": f"https://{cluster.node_ip}:{layout.API_PORT}",
                                                         "certificate-authority-data": authority}}],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": "notebook", "context": {"cluster": "hubml-test", "user": account,
                                                      "namespace": namespace}}],
    }))
    return path


def delete_namespace(admin: k8s.ApiClient, name: str) -> None:
    """Start deleting the namespace and everything in it; the controllers finish it in the background."""
    try:
        k8s.CoreV1Api(admin).delete_namespace(name, propagation_policy="Background")
    except k8s.ApiException as error:
        if error.status != 404:
            raise
