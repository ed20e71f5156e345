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

    def make(kubeconfig=None, **overrides):
        api_client = kube_config.new_client_from_config(config_file=str(kubeconfig or kube_env.kubeconfig))
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


@pytest.fixture
def proxy(kube_cluster, kube_env, tmp_path):
    """A proxy in front of the API server that cuts connections on demand, and the notebook's kubeconfig
    through it (`proxy.notebook_kubeconfig`)."""
    from cluster import layout
    from cutting_proxy import CuttingProxy

    proxy = CuttingProxy((kube_cluster.node_ip, layout.API_PORT))
    proxy.notebook_kubeconfig = proxy.kubeconfig(kube_env.kubeconfig, tmp_path / "proxied.kubeconfig")
    yield proxy
    proxy.close()


@pytest.fixture(scope="session")
def keras_model(tmp_path_factory):
    """A SavedModel of y = 0.5 x + 2 (one float input, as TF Serving's half_plus_two), exported by Keras."""
    import numpy as np
    import keras

    folder = tmp_path_factory.mktemp("model") / "1"
    model = keras.Sequential([keras.Input((1,), name="x"), keras.layers.Dense(1)])
    model.layers[0].set_weights([np.array([[0.5]], dtype="float32"), np.array([2.0], dtype="float32")])
    model.export(str(folder), verbose=False)
    return folder


@pytest.fixture
def stored_model(kube_env, keras_model):
    """`models/half/1` in the namespace's storage, as a job's export leaves it."""
    from hubml import storage

    storage.upload(str(keras_model), storage.join(kube_env.storage_url, "models", "half", "1"))
    return "half"
