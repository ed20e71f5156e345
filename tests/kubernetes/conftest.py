"""Fixtures for the Kubernetes backend: a fake API server over HTTP and backends pointed at it."""
from __future__ import annotations

import pytest
from traitlets.config import Config

from k8s_controller import Controller
from fake_apiserver import FakeApiServer
from k8s_testing import NAMESPACE, USER

@pytest.fixture
def server():
    with FakeApiServer() as fake:
        yield fake


@pytest.fixture
def controller(server) -> Controller:
    return Controller(server.cluster, NAMESPACE)


@pytest.fixture
def settings(tmp_path, monkeypatch):
    from hubml.config import Settings

    for name in ("HUBML_NAMESPACE", "HUBML_STORAGE", "HUBML_BACKEND", "HUBML_USER", "TF_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return Settings.resolve({"backend": "kubernetes", "home": str(tmp_path / "home"), "user": USER,
                             "namespace": NAMESPACE, "storage": f"file://{tmp_path}/storage"}, Config())


@pytest.fixture
def options():
    from hubml.backends.kubernetes.options import ClusterOptions

    return ClusterOptions.resolve(Config(), storage_claim="hubml-storage")


@pytest.fixture
def make_backend(server, settings, options):
    """Backends on the official client, pointed at the fake server with `Configuration(host=...)`."""
    from kubernetes import client as k8s

    from hubml.backends.kubernetes.backend import KubernetesBackend

    made = []

    def make(**overrides):
        api_client = k8s.ApiClient(k8s.Configuration(host=server.url))
        backend = KubernetesBackend(overrides.pop("settings", settings), api_client=api_client,
                                    options=overrides.pop("options", options), **overrides)
        backend.leftover_grace_seconds = 0.0  # tests play no k8s_entry that would end them first
        made.append((backend, api_client))
        return backend

    yield make
    for backend, api_client in made:
        backend.close()
        api_client.close()


@pytest.fixture
def backend(make_backend):
    return make_backend()
