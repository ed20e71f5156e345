"""hubml's chart on the real cluster, installed with Helm (`make cluster-hub`): a server spawned from a profile
through the hub's REST API into the user's own namespace, with their home on a bound PersistentVolumeClaim;
the core loop run with papermill inside that notebook pod, as its own service account; and, on a second
release, `helm upgrade` with changed values, the idle culler, a schedule that outlives its owner's server,
and `helm uninstall` leaving nothing behind."""
from __future__ import annotations

import json
import secrets
import textwrap
from datetime import datetime, timezone

import nbformat
import pytest
from hub_testing import HubAPI
from kubernetes import client as k8s
from kubernetes.utils import parse_quantity

import cluster_testing
import wait_helpers
from hub_config.profiles import find_profile, load_profiles, profile_quota
from hubml.backends.kubernetes import tenancy

# The first spawn provisions a volume (a helper pod) before the notebook starts.
SPAWN_SECONDS = 300.0
LOOP_SECONDS = 900.0
SCRATCH_RELEASE, SCRATCH_NAMESPACE, SCRATCH_NODE_PORT = "hubml-scratch", "hubml-scratch-system", 30081
CULL_SECONDS = 60


def notebook_pod(admin: k8s.ApiClient, namespace: str) -> k8s.V1Pod:
    (pod,) = k8s.CoreV1Api(admin).list_namespaced_pod(namespace, label_selector="component=singleuser-server").items
    return pod


def run_in(admin: k8s.ApiClient, namespace: str, command: list[str], timeout: float) -> str:
    """A command in the user's notebook container, as `kubectl exec` runs it; its output, or a failure with it."""
    from kubernetes.stream import stream

    pod = notebook_pod(admin, namespace)
    session = stream(k8s.CoreV1Api(admin).connect_get_namespaced_pod_exec, pod.metadata.name, namespace,
                     command=command, container="notebook", stdout=True, stderr=True, stdin=False, tty=False,
                     _preload_content=False)
    session.run_forever(timeout=timeout)
    output = session.read_all()
    assert session.returncode == 0, f"{' '.join(command)} exited {session.returncode}:\n{output[-4000:]}"
    return output


def forget(hub: HubAPI, admin: k8s.ApiClient, user: str) -> None:
    """Stop and delete the hub's user, and their namespace with everything in it."""
    if hub.user(user)["servers"]:
        hub.stop(user, SPAWN_SECONDS)
    hub.request("DELETE", f"users/{user}")
    cluster_testing.delete_namespace(admin, f"hubml-{user}")


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
    hard = core.read_namespaced_resource_quota(tenancy.QUOTA_NAME, namespace).spec.hard
    wanted = profile_quota(find_profile(load_profiles(), "cpu-small"))
    assert {key: parse_quantity(value) for key, value in hard.items()} == \
        {key: parse_quantity(value) for key, value in wanted.items()}
    policies = k8s.NetworkingV1Api(kube_admin).list_namespaced_network_policy(namespace).items
    assert {policy.metadata.name for policy in policies} == {tenancy.SAME_NAMESPACE_POLICY, tenancy.FROM_HUB_POLICY}
    (claim,) = core.list_namespaced_persistent_volume_claim(namespace).items
    assert claim.status.phase == "Bound" and claim.spec.storage_class_name == "local-path"
    assert any(volume.persistent_volume_claim and volume.persistent_volume_claim.claim_name == claim.metadata.name
               for volume in pod.spec.volumes)
    status = cluster_hub.server(spawned, "api/status")  # through the hub's proxy
    assert status.status_code == 200 and "started" in status.json()


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
    model.save(os.environ["HUBML_MODEL_DIR"])
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


# --- a second release: upgrade, the culler, uninstall ----------------------------------------------------


def hub_environment(admin: k8s.ApiClient, namespace: str) -> dict[str, str]:
    deployment = k8s.AppsV1Api(admin).read_namespaced_deployment("hub", namespace)
    (container,) = deployment.spec.template.spec.containers
    return {each.name: each.value for each in container.env if each.value is not None}


def upload_notebook(api: HubAPI, user: str, name: str, *cells: str) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    upload = {"type": "notebook", "format": "json", "content": json.loads(nbformat.writes(notebook))}
    assert api.server(user, f"api/contents/{name}", "PUT", json=upload).status_code in (200, 201)


def left_of_release(admin: k8s.ApiClient, release: str) -> list[str]:
    """Every object still labelled with the release: in any namespace, and cluster-wide."""
    selector = f"app.kubernetes.io/instance={release}"
    core, apps, rbac = k8s.CoreV1Api(admin), k8s.AppsV1Api(admin), k8s.RbacAuthorizationV1Api(admin)
    listings = [core.list_pod_for_all_namespaces, core.list_service_for_all_namespaces,
                core.list_secret_for_all_namespaces, core.list_config_map_for_all_namespaces,
                core.list_persistent_volume_claim_for_all_namespaces, core.list_service_account_for_all_namespaces,
                apps.list_deployment_for_all_namespaces, rbac.list_cluster_role, rbac.list_cluster_role_binding]
    return [f"{item.kind or listing.__name__}/{item.metadata.name}" for listing in listings
            for item in listing(label_selector=selector).items]


def test_a_release_upgrades_culls_an_idle_server_whose_schedule_keeps_running_and_uninstalls_cleanly(
        kube_cluster, kube_admin):
    """A second release of the chart, in its own namespace on its own node port, the culler off at first."""
    from cluster import hub

    values = {"proxy": {"service": {"nodePort": SCRATCH_NODE_PORT}}, "cull": {"enabled": False}}
    environment = hub.install(values, release=SCRATCH_RELEASE, namespace=SCRATCH_NAMESPACE, verbose=False)
    api = HubAPI(environment["HUB_URL"], environment["HUB_API_TOKEN"])
    user = f"cy{secrets.token_hex(3)}"
    namespace = f"hubml-{user}"
    try:
        assert hub_environment(kube_admin, SCRATCH_NAMESPACE)["HUBML_CULL_ENABLED"] == "false"
        api.start(user, {"profile": "cpu-small"}, SPAWN_SECONDS)
        upload_notebook(api, user, "nightly.ipynb", "print('report while away')")
        run_in(kube_admin, namespace, ["hubml", "run", "/home/jovyan/nightly.ipynb", "--name", "nightly",
                                       "--schedule", "* * * * *"], 120)

        kept = {"hub": {"apiToken": environment["HUB_API_TOKEN"], "password": environment["HUB_PASSWORD"]}}
        hub.install({**values, **kept, "cull": {"enabled": True, "timeout": CULL_SECONDS, "every": 5}},
                    release=SCRATCH_RELEASE, namespace=SCRATCH_NAMESPACE, verbose=False)
        assert hub_environment(kube_admin, SCRATCH_NAMESPACE)["HUBML_CULL_TIMEOUT"] == str(CULL_SECONDS)
        api.wait(user, lambda server: server is None, 4 * CULL_SECONDS + SPAWN_SECONDS, "the culler")
        core, batch = k8s.CoreV1Api(kube_admin), k8s.BatchV1Api(kube_admin)
        wait_helpers.wait_for(lambda: not core.list_namespaced_pod(
            namespace, label_selector="component=singleuser-server").items, SPAWN_SECONDS, "the notebook pod gone")
        culled_at = datetime.now(timezone.utc)

        def a_run_after_the_cull() -> list:
            jobs = batch.list_namespaced_job(namespace, label_selector="hubml.io/schedule=nightly").items
            return [job for job in jobs if job.status.succeeded and job.metadata.creation_timestamp > culled_at]

        wait_helpers.wait_for(a_run_after_the_cull, 3 * 60 + SPAWN_SECONDS, "a scheduled run after the cull",
                              interval=1.0)
    finally:
        forget(api, kube_admin, user)
        hub.uninstall(SCRATCH_RELEASE, SCRATCH_NAMESPACE)
    assert left_of_release(kube_admin, SCRATCH_RELEASE) == []
