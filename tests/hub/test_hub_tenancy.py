"""The hub's pre-spawn hook on the real cluster: the user's namespace objects written through KubeSpawner's own
client, as the chart's `hub` service account with exactly the ClusterRole the chart gives it."""
from __future__ import annotations

import asyncio
import secrets

import kubernetes_validate
import pytest
from kubernetes import client as k8s
from kubespawner.clients import load_config

from hub_config.profiles import find_profile, load_profiles, profile_quota
from hubml.backends.kubernetes import tenancy
from hub_testing import as_quantities, quota_in
from kube_fixtures import load_hub_config, make_spawner

KUBERNETES_VERSION = kubernetes_validate.latest_version()
PROFILES = load_profiles()
HUB_NAMESPACE = "hubml-system"


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile["slug"])
def test_every_object_validates_strictly(profile):
    objects = [tenancy.namespace_object("hubml-ada", "ada"),
               *tenancy.namespace_manifests("hubml-ada", "ada", profile_quota(profile), hub_namespace=HUB_NAMESPACE),
               tenancy.storage_secret("hubml-ada", "ada", {"AWS_ACCESS_KEY_ID": "key", "AWS_SECRET_ACCESS_KEY": "s"})]
    assert [o["kind"] for o in objects] == ["Namespace", "ServiceAccount", "ServiceAccount", "Role", "RoleBinding",
                                            "NetworkPolicy", "NetworkPolicy", "ResourceQuota", "LimitRange", "Secret"]
    for manifest in objects:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


@pytest.fixture
def hub(cluster_hub, kube_cluster, kube_admin, monkeypatch, tmp_path):
    """Runs the configured pre-spawn hook for a fresh user, as the hub's account: the installed chart's, with the
    rights Helm gave it (objects applied by hand would stop a later `helm install` from owning them). Returns
    (run, user, secret name): `run(profiles)` spawns once per profile; the hub's namespace holds storage Secrets
    the test writes."""
    import cluster_testing

    kubeconfig = cluster_testing.write_token_kubeconfig(kube_admin, kube_cluster, HUB_NAMESPACE, "hub",
                                                        tmp_path / "hub.kubeconfig")
    config = load_hub_config(monkeypatch, kubeconfig)
    # KubeSpawner loads its client configuration once per process; other hub tests loaded one naming an
    # address nothing listens on.
    load_config.cache_clear()
    user, shared = f"ada{secrets.token_hex(3)}", f"keys-{secrets.token_hex(3)}"
    monkeypatch.setenv("HUBML_STORAGE_SECRET", shared)

    def run(profiles: list[str | None]) -> str:
        async def scenario():
            spawner = await make_spawner(config, user)
            try:
                for profile in profiles:
                    spawner.user_options = {"profile": profile} if profile else {}
                    await spawner._run_apply_user_options(spawner.user_options)  # as JupyterHub's User.spawn
                    await spawner.run_pre_spawn_hook()
                return spawner.namespace
            finally:
                await spawner.api.api_client.close()

        return asyncio.run(scenario())

    yield run, user, shared
    core = k8s.CoreV1Api(kube_admin)
    for name in (shared, f"{shared}-{user}"):
        try:
            core.delete_namespaced_secret(name, HUB_NAMESPACE)
        except k8s.ApiException:
            pass
    cluster_testing.delete_namespace(kube_admin, f"hubml-{user}")
    load_config.cache_clear()


def hub_secret(admin: k8s.ApiClient, name: str, access: str, secret: str) -> None:
    k8s.CoreV1Api(admin).create_namespaced_secret(HUB_NAMESPACE, {
        "metadata": {"name": name}, "stringData": {"AWS_ACCESS_KEY_ID": access, "AWS_SECRET_ACCESS_KEY": secret}})


def stored_keys(admin: k8s.ApiClient, namespace: str) -> dict[str, str]:
    import base64

    data = k8s.CoreV1Api(admin).read_namespaced_secret(tenancy.STORAGE_SECRET, namespace).data
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def test_the_pre_spawn_hook_creates_then_updates_the_namespace_objects(hub, kube_admin):
    run, user, shared = hub
    hub_secret(kube_admin, shared, "team-key", "team-secret")
    # A second spawn with another profile updates what changed, and never fails on what exists.
    namespace = run(["cpu-small", "gpu-4"])
    core, rbac = k8s.CoreV1Api(kube_admin), k8s.RbacAuthorizationV1Api(kube_admin)
    labels = core.read_namespace(namespace).metadata.labels
    assert labels[tenancy.USER_LABEL] == user and labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert core.read_namespaced_service_account(tenancy.JOB_ACCOUNT, namespace).automount_service_account_token \
        is False
    role = kube_admin.sanitize_for_serialization(rbac.read_namespaced_role(tenancy.NOTEBOOK_ACCOUNT, namespace))
    assert role["rules"] == tenancy.NOTEBOOK_RULES
    binding = rbac.read_namespaced_role_binding(tenancy.NOTEBOOK_ACCOUNT, namespace)
    assert binding.subjects[0].name == tenancy.NOTEBOOK_ACCOUNT
    assert quota_in(kube_admin, namespace) == as_quantities(profile_quota(find_profile(PROFILES, "gpu-4")))
    limits = core.read_namespaced_limit_range(tenancy.LIMIT_RANGE_NAME, namespace).spec.limits[0]
    assert set(limits.default_request) == {"cpu", "memory"}
    assert stored_keys(kube_admin, namespace) == {"AWS_ACCESS_KEY_ID": "team-key", "AWS_SECRET_ACCESS_KEY": "team-secret",
                                                  "AWS_ENDPOINT_URL": "https://s3.example.com"}  # for job pods
    policies = {each.metadata.name: each for each in
                k8s.NetworkingV1Api(kube_admin).list_namespaced_network_policy(namespace).items}
    assert set(policies) == {tenancy.SAME_NAMESPACE_POLICY, tenancy.FROM_HUB_POLICY}
    (from_hub,) = policies[tenancy.FROM_HUB_POLICY].spec.ingress[0]._from
    assert from_hub.namespace_selector.match_labels == {"kubernetes.io/metadata.name": HUB_NAMESPACE}


def test_a_users_own_storage_secret_wins_over_the_shared_one(hub, kube_admin):
    run, user, shared = hub
    hub_secret(kube_admin, shared, "team", "team")
    hub_secret(kube_admin, f"{shared}-{user}", "ada-key", "ada-secret")
    namespace = run([None])
    assert stored_keys(kube_admin, namespace) == {"AWS_ACCESS_KEY_ID": "ada-key", "AWS_SECRET_ACCESS_KEY": "ada-secret",
                                                  "AWS_ENDPOINT_URL": "https://s3.example.com"}


def test_without_any_storage_secret_no_secret_is_written(hub, kube_admin):
    run, _, _ = hub
    namespace = run([None])
    core = k8s.CoreV1Api(kube_admin)
    assert tenancy.STORAGE_SECRET not in [each.metadata.name for each in core.list_namespaced_secret(namespace).items]
    assert core.read_namespaced_resource_quota(tenancy.QUOTA_NAME, namespace)
