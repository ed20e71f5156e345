"""Fixtures for the Kubernetes backend on the real cluster: backends acting as a user's notebook would.

Each test gets its own user namespace (tests/conftest.py `user_namespace`), and
its backends authenticate as that namespace's notebook service account, so the
real API server's RBAC, admission (quota, LimitRange, Pod Security) and
controllers decide what happens.
"""
from __future__ import annotations

import pytest


@pytest.fixture
def make_backend(kube_env, tmp_path):
    """Backends on the official client, as the notebook's service account, in the test's namespace."""
    from kubernetes import config as kube_config

    from hubml.backends.kubernetes.backend import KubernetesBackend
    from hubml.backends.kubernetes.options import ClusterOptions

    made = []

    def make(**overrides):
        api_client = kube_config.new_client_from_config(config_file=str(kube_env.kubeconfig))
        settings = overrides.pop("settings", None) or kube_env.settings(tmp_path / "home")
        backend = KubernetesBackend(settings, api_client=api_client,
                                    options=overrides.pop("options", None) or ClusterOptions.resolve(), **overrides)
        made.append((backend, api_client))
        return backend

    yield make
    for backend, api_client in made:
        backend.close()
        api_client.close()


@pytest.fixture
def backend(make_backend):
    return make_backend()
