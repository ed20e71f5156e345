"""KubeSpawner configured from hub_config/jupyterhub_config.py in Kubernetes mode.

KubeSpawner loads a kubeconfig when it is built: `write_kubeconfig` names an
address nothing listens on, for tests that only build pod manifests; the
tenancy tests give it the real cluster's, as the chart's hub account.
"""
from __future__ import annotations

from pathlib import Path
from unittest.mock import Mock

import yaml
from jupyterhub.objects import Hub, Server
from kubernetes_asyncio.client import ApiClient
from kubernetes_asyncio.config import kube_config
from kubespawner import KubeSpawner
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from hub_testing import REPO_ROOT

HUB_ENV = {
    "HUBML_HUB_MODE": "kubernetes",
    "HUBML_HUB_PASSWORD": "a-long-shared-password",
    "HUBML_S3_BUCKET": "team-bucket",
    "AWS_ENDPOINT_URL": "https://s3.example.com",
    "POD_NAMESPACE": "hubml-system",
}


class MockUser(Mock):
    """The slice of JupyterHub's User that a spawner reads (as in KubeSpawner's own tests)."""

    server = Server()

    def __init__(self, name: str, **kwargs):
        super().__init__(**kwargs)
        self.name = name
        self.id = 7

    @property
    def escaped_name(self) -> str:
        return self.name

    @property
    def url(self) -> str:
        return self.server.url


def write_kubeconfig(path: Path, server: str) -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": {"server": server}}],
        "users": [{"name": "test", "user": {"token": "test-token"}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
        "current-context": "test",
    }))
    return path


def load_hub_config(monkeypatch, kubeconfig: Path) -> Config:
    for name, value in HUB_ENV.items():
        monkeypatch.setenv(name, value)
    # kubernetes_asyncio reads $KUBECONFIG once, at import: point its default there instead.
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
    return PyFileConfigLoader("jupyterhub_config.py", path=str(REPO_ROOT / "hub_config")).load_config()


async def make_spawner(config: Config, username: str = "ada") -> KubeSpawner:
    """Must run inside the event loop: KubeSpawner binds its API client to it."""
    return KubeSpawner(config=config, user=MockUser(username), hub=Hub(), _mock=True)


async def spawn_manifests(config: Config, user_options: dict, username: str = "ada") -> tuple[KubeSpawner, dict, dict]:
    """What JupyterHub's `User.spawn` runs before `start`, then the manifests KubeSpawner would send."""
    spawner = await make_spawner(config, username)
    try:
        spawner.user_options = user_options
        await spawner._run_apply_user_options(spawner.user_options)  # JupyterHub's own call, 400 on error
        await spawner.load_user_options()  # KubeSpawner._start's first step
        serializer = ApiClient()
        pod = serializer.sanitize_for_serialization(await spawner.get_pod_manifest())
        pvc = serializer.sanitize_for_serialization(spawner.get_pvc_manifest())
        await serializer.close()
    finally:
        await spawner.api.api_client.close()
    return spawner, pod, pvc
