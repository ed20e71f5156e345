"""The per-user namespace objects the hub writes before a notebook starts."""
from __future__ import annotations

import asyncio
import base64

import kubernetes_validate
import pytest

from hub_config import tenancy
from hub_config.profiles import find_profile, load_profiles, profile_quota
from fake_kube_api import FakeKubeAPI
from kube_fixtures import load_hub_config, make_spawner, write_kubeconfig

KUBERNETES_VERSION = kubernetes_validate.latest_version()
PROFILES = load_profiles()
NAMESPACE = "hubml-ada"
RBAC = "/apis/rbac.authorization.k8s.io/v1/namespaces/hubml-ada"
CORE = "/api/v1/namespaces/hubml-ada"


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile["slug"])
def test_every_object_validates_strictly(profile):
    objects = tenancy.tenancy_manifests(NAMESPACE, "ada", profile_quota(profile))
    objects.append(tenancy.storage_secret(NAMESPACE, "ada", {"AWS_ACCESS_KEY_ID": "a2V5", "AWS_SECRET_ACCESS_KEY": "c2VjcmV0"}))
    assert [o["kind"] for o in objects] == ["ServiceAccount", "ServiceAccount", "Role", "RoleBinding", "ResourceQuota", "Secret"]
    for manifest in objects:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_the_hub_writes_what_the_kubernetes_backend_expects():
    """Same names, rules, binding and quota as hubml/backends/kubernetes/tenancy.py."""
    from hubml.backends.kubernetes.tenancy import namespace_manifests

    quota = profile_quota(find_profile(PROFILES, "gpu-1"))
    ours = tenancy.tenancy_manifests(NAMESPACE, "ada", quota)
    theirs = namespace_manifests(NAMESPACE, "ada", quota)

    def essence(manifest: dict) -> dict:
        kept = {key: value for key, value in manifest.items() if key != "metadata"}
        return {**kept, "name": manifest["metadata"]["name"], "user": manifest["metadata"]["labels"][tenancy.USER_LABEL]}

    assert [essence(m) for m in ours] == [essence(m) for m in theirs]


def test_the_notebook_role_stays_inside_its_namespace():
    role = tenancy.notebook_role(NAMESPACE, "ada")
    assert role["kind"] == "Role" and role["metadata"]["namespace"] == NAMESPACE
    writable = {resource for rule in role["rules"] if "create" in rule["verbs"] for resource in rule["resources"]}
    assert writable == {"jobs", "cronjobs", "pods", "services", "configmaps", "deployments"}
    secrets = next(rule for rule in role["rules"] if "secrets" in rule["resources"])
    assert secrets["verbs"] == ["get", "list", "watch"]


@pytest.fixture
def run_hook(monkeypatch, tmp_path):
    """Run the configured pre-spawn hook, once per profile, against a fake API server on loopback.

    The hub's namespace holds `secrets` (name -> data) beforehand. KubeSpawner
    caches its client configuration per API host, so the server is named
    through `k8s_api_host`. Returns the server, to read what the client wrote.
    """
    config = load_hub_config(monkeypatch, write_kubeconfig(tmp_path / "kubeconfig", "https://127.0.0.1:9"))

    def run(secrets: dict[str, dict], profiles: list[str | None]) -> FakeKubeAPI:
        api = FakeKubeAPI()

        async def scenario():
            api.start()
            for name, data in secrets.items():
                api.put_object(f"/api/v1/namespaces/hubml-system/secrets/{name}",
                               {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": data})
            config.KubeSpawner.k8s_api_host = api.url
            spawner = await make_spawner(config)
            try:
                for profile in profiles:
                    spawner.user_options = {"profile": profile} if profile else {}
                    await spawner._run_apply_user_options(spawner.user_options)  # as JupyterHub's User.spawn
                    await spawner.run_pre_spawn_hook()
            finally:
                await spawner.api.api_client.close()
                api.stop()

        asyncio.run(scenario())
        return api

    return run


def keys(access: bytes, secret: bytes) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": base64.b64encode(access).decode(),
            "AWS_SECRET_ACCESS_KEY": base64.b64encode(secret).decode()}


def test_the_pre_spawn_hook_creates_then_updates_the_namespace_objects(run_hook):
    shared = keys(b"team-key", b"team-secret")
    # A second spawn with another profile updates what changed, and never fails on what exists.
    api = run_hook({"hubml-storage": shared}, ["cpu-small", "gpu-4"])
    objects = api.objects
    assert objects["/api/v1/namespaces/hubml-ada"]["metadata"]["labels"] == {"hubml.io/user": "ada"}
    assert f"{CORE}/serviceaccounts/hubml-notebook" in objects
    assert objects[f"{CORE}/serviceaccounts/hubml-job"]["automountServiceAccountToken"] is False
    assert objects[f"{RBAC}/roles/hubml-notebook"]["rules"] == tenancy.NOTEBOOK_RULES
    assert objects[f"{RBAC}/rolebindings/hubml-notebook"]["subjects"][0]["name"] == "hubml-notebook"
    assert objects[f"{CORE}/resourcequotas/hubml-quota"]["spec"]["hard"] == profile_quota(find_profile(PROFILES, "gpu-4"))
    assert objects[f"{CORE}/secrets/hubml-storage"]["data"] == shared
    assert ("PUT", f"{CORE}/resourcequotas/hubml-quota") in api.requests
    assert ("PUT", f"{CORE}/serviceaccounts/hubml-notebook") not in api.requests


def test_a_users_own_storage_secret_wins_over_the_shared_one(run_hook):
    own = keys(b"ada-key", b"ada-secret")
    api = run_hook({"hubml-storage": keys(b"team", b"team"), "hubml-storage-ada": own}, [None])
    assert api.objects[f"{CORE}/secrets/hubml-storage"]["data"] == own


def test_without_any_storage_secret_no_secret_is_written(run_hook):
    api = run_hook({}, [None])
    assert f"{CORE}/secrets/hubml-storage" not in api.objects
    assert f"{CORE}/resourcequotas/hubml-quota" in api.objects
