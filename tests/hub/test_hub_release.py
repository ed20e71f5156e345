"""A second release of hubml's chart on the real cluster, in a module of its own (so the first release's spawned
server is gone and its CPU free): `helm upgrade` with changed values turns the culler on, an idle server is
culled while the notebook its user scheduled keeps running, and `helm uninstall` leaves nothing behind."""
from __future__ import annotations

import secrets
from datetime import datetime, timezone

from kubernetes import client as k8s
from hub_testing import SPAWN_SECONDS, forget, run_in, upload_notebook

import wait_helpers
from cluster.hub import HubAPI

SCRATCH_RELEASE, SCRATCH_NAMESPACE, SCRATCH_NODE_PORT = "hubml-scratch", "hubml-scratch-system", 30081
CULL_SECONDS = 60


def hub_environment(admin: k8s.ApiClient, namespace: str) -> dict[str, str]:
    deployment = k8s.AppsV1Api(admin).read_namespaced_deployment("hub", namespace)
    (container,) = deployment.spec.template.spec.containers
    return {each.name: each.value for each in container.env if each.value is not None}


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
        hub.install({**values, **kept, "cull": {"enabled": True, "timeout": CULL_SECONDS, "every": 10}},
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
