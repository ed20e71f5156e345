"""hubml's chart on the real cluster, installed with Helm (`make cluster-hub`): a server spawned from a profile
through the hub's REST API into the user's own namespace, with their home on a bound PersistentVolumeClaim;
the core loop run with papermill inside that notebook pod, as its own service account. A second release's
upgrade, culler and uninstall: test_hub_release.py."""
from __future__ import annotations

import json
import secrets
import textwrap

import nbformat
import pytest
from kubernetes import client as k8s

from hub_testing import (SPAWN_SECONDS, as_quantities, forget, notebook_pod, progress_until, quota_in, run_in,
                         upload_notebook)
from hub_config.profiles import find_profile, load_profiles, profile_quota
from hubml.backends.kubernetes import tenancy
from wait_helpers import wait_for

LOOP_SECONDS = 900.0


@pytest.fixture(scope="module")
def spawned(cluster_hub, kube_admin):
    """A user whose server an admin started through the REST API with the cpu-small profile."""
    user = f"ada{secrets.token_hex(3)}"
    cluster_hub.start(user, {"profile": "cpu-small"}, SPAWN_SECONDS)
    yield user
    forget(cluster_hub, kube_admin, user)


def test_the_hub_and_its_proxy_run_in_a_restricted_namespace(cluster_hub, kube_admin):
    from cluster import hub

    assert "deployed" in hub.helm("status", hub.RELEASE)
    core = k8s.CoreV1Api(kube_admin)
    labels = core.read_namespace(hub.NAMESPACE).metadata.labels
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    pods = core.list_namespaced_pod(hub.NAMESPACE, label_selector="app.kubernetes.io/instance=hubml").items
    components = {pod.metadata.labels["app.kubernetes.io/component"]: pod for pod in pods}
    assert {"hub", "proxy"} <= set(components)
    assert all(pod.status.phase == "Running" and pod.spec.security_context.run_as_non_root
               for pod in components.values())


def test_a_server_started_from_a_profile_runs_in_the_users_namespace_made_before_it(
        cluster_hub, spawned, kube_admin):
    namespace = f"hubml-{spawned}"
    core, rbac = k8s.CoreV1Api(kube_admin), k8s.RbacAuthorizationV1Api(kube_admin)
    pod = notebook_pod(kube_admin, namespace)
    assert pod.status.phase == "Running" and pod.spec.service_account_name == tenancy.NOTEBOOK_ACCOUNT
    role = rbac.read_namespaced_role(tenancy.NOTEBOOK_ACCOUNT, namespace)
    assert role.metadata.creation_timestamp <= pod.metadata.creation_timestamp
    assert quota_in(kube_admin, namespace) == as_quantities(profile_quota(find_profile(load_profiles(), "cpu-small")))
    policies = k8s.NetworkingV1Api(kube_admin).list_namespaced_network_policy(namespace).items
    assert {policy.metadata.name for policy in policies} == {tenancy.SAME_NAMESPACE_POLICY, tenancy.FROM_HUB_POLICY}
    (claim,) = core.list_namespaced_persistent_volume_claim(namespace).items
    assert claim.status.phase == "Bound" and claim.spec.storage_class_name == "local-path"
    assert any(volume.persistent_volume_claim and volume.persistent_volume_claim.claim_name == claim.metadata.name
               for volume in pod.spec.volumes)
    status = cluster_hub.server(spawned, "api/status")  # through the hub's proxy
    assert status.status_code == 200 and "started" in status.json()


def test_a_profile_larger_than_the_node_says_why_and_stops_cleanly(cluster_hub, kube_admin):
    """cpu-large guarantees 4 CPUs; the test node has 2 (the chart's other profiles need GPUs and are off). Its
    namespace objects are made as for any profile; the pod cannot be scheduled, and the spawn does not wait
    in silence: the hub's progress stream carries the scheduler's reason. Stopping the spawn ends the pod."""
    user = f"bo{secrets.token_hex(3)}"
    namespace = f"hubml-{user}"
    assert cluster_hub.request("POST", f"users/{user}").status_code == 201
    started = cluster_hub.request("POST", f"users/{user}/server", json={"profile": "cpu-large"})
    assert started.status_code == 202, started.text
    try:
        messages = progress_until(cluster_hub, user, "Insufficient cpu", SPAWN_SECONDS)
        assert "[Warning]" in messages[-1], messages
        assert quota_in(kube_admin, namespace) == as_quantities(
            profile_quota(find_profile(load_profiles(), "cpu-large")))
        assert notebook_pod(kube_admin, namespace).status.phase == "Pending"
        cluster_hub.stop(user, SPAWN_SECONDS)  # a pending spawn is cancelled
        core = k8s.CoreV1Api(kube_admin)
        wait_for(lambda: not core.list_namespaced_pod(namespace, label_selector="component=singleuser-server").items,
                 SPAWN_SECONDS, "the pending notebook pod deleted")
    finally:
        forget(cluster_hub, kube_admin, user)


def test_a_file_in_the_users_home_survives_a_server_restart(cluster_hub, spawned, kube_admin):
    note = {"type": "file", "format": "text", "content": f"kept {secrets.token_hex(4)}"}
    assert cluster_hub.server(spawned, "api/contents/kept.txt", "PUT", json=note).status_code in (200, 201)
    first = notebook_pod(kube_admin, f"hubml-{spawned}").metadata.uid
    cluster_hub.stop(spawned, SPAWN_SECONDS)
    cluster_hub.start(spawned, {"profile": "cpu-small"}, SPAWN_SECONDS)
    assert notebook_pod(kube_admin, f"hubml-{spawned}").metadata.uid != first
    kept = cluster_hub.server(spawned, "api/contents/kept.txt")
    assert kept.status_code == 200 and kept.json()["content"] == note["content"]


TRAIN_CELL = textwrap.dedent("""\
    %%train --name loop
    import os
    import numpy as np
    import tensorflow as tf
    import hubml.keras

    x = np.array([[1.0], [3.0]], dtype=np.float32)
    model = tf.keras.Sequential([tf.keras.layers.Input(shape=(1,), name="x"), tf.keras.layers.Dense(
        1, kernel_initializer=tf.keras.initializers.Constant(0.5),
        bias_initializer=tf.keras.initializers.Constant(2.0))])
    model.compile(loss="mse", optimizer="sgd")
    model.fit(x, 0.5 * x + 2, epochs=2, verbose=2, callbacks=[hubml.keras.ReportCallback()])
    model.export(os.environ["HUBML_MODEL_DIR"])  # a SavedModel, as Keras 3 writes one
""")


def test_the_core_loop_runs_in_the_notebook_pod_with_its_own_account(cluster_hub, spawned, kube_admin):
    upload_notebook(cluster_hub, spawned, "loop.ipynb", TRAIN_CELL, "endpoint = %deploy loop --name loop",
                    "%predict loop [[1.0], [3.0]]", "%undeploy loop")
    run_in(kube_admin, f"hubml-{spawned}", ["papermill", "/home/jovyan/loop.ipynb", "/home/jovyan/loop-out.ipynb"],
           LOOP_SECONDS)
    ran = nbformat.reads(json.dumps(cluster_hub.server(spawned, "api/contents/loop-out.ipynb").json()["content"]),
                         as_version=4)
    text = "".join(output.get("text", "") + json.dumps(output.get("data", {}))
                   for cell in ran.cells for output in cell.get("outputs", []))
    assert "[[2.5], [3.5]]" in text, text[-3000:]
    records = k8s.CoreV1Api(kube_admin).list_namespaced_config_map(f"hubml-{spawned}",
                                                                    label_selector="hubml.io/record=job").items
    assert [json.loads(record.data["spec.json"])["name"] for record in records] == ["loop"]
    rows = json.loads(run_in(kube_admin, f"hubml-{spawned}", ["hubml", "quota", "--output", "json"], 120))
    limits = {(row["resource"], row["limit"]) for row in rows}
    assert {("requests.cpu", 4), ("requests.memory", 16 * 2**30)} <= limits, rows
