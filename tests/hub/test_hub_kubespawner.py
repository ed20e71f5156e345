"""KubeSpawner's own code builds each profile's pod, configured by hub_config/ in Kubernetes mode."""
from __future__ import annotations

import asyncio
import copy
import json
import subprocess

import kubernetes_validate
import pytest
from tornado import web

from hub_config.profiles import load_profiles
from kube_fixtures import load_hub_config, spawn_manifests, write_kubeconfig

KUBERNETES_VERSION = kubernetes_validate.latest_version()
PROFILES = load_profiles()
GPUS = {"cpu-small": 0, "cpu-large": 0, "gpu-1": 1, "gpu-4": 4}


@pytest.fixture
def hub_config(monkeypatch, tmp_path):
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", "https://127.0.0.1:9")  # never contacted
    return load_hub_config(monkeypatch, kubeconfig)


def spawn(hub_config, user_options: dict, username: str = "ada"):
    return asyncio.run(spawn_manifests(hub_config, copy.deepcopy(user_options), username))


def form_options(slug: str, **choices: str) -> dict:
    """The shape the spawn form, `/hub/spawn?...` links and papermill batch runs send."""
    return {"profile": slug, **{f"profile-option-{slug}--{name}": value for name, value in choices.items()}}


def container_env(pod: dict) -> dict:
    return {item["name"]: item for item in pod["spec"]["containers"][0]["env"]}


def test_every_shipped_profile_has_a_gpu_count_test():
    assert sorted(GPUS) == sorted(profile["slug"] for profile in PROFILES)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile["slug"])
def test_each_profile_and_image_choice_builds_a_valid_pod(hub_config, profile):
    for choice_name, choice in profile["profile_options"]["image"]["choices"].items():
        spawner, pod, pvc = spawn(hub_config, form_options(profile["slug"], image=choice_name))
        container = pod["spec"]["containers"][0]
        assert container["image"] == choice["kubespawner_override"]["image"]
        gpus = GPUS[profile["slug"]]
        limits = container["resources"]["limits"]
        volumes = {volume["name"]: volume for volume in pod["spec"]["volumes"]}
        mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
        if gpus:
            assert limits["nvidia.com/gpu"] == str(gpus)
            assert pod["spec"]["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
            assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["spec"]["tolerations"]
            assert volumes[mounts["/dev/shm"]]["emptyDir"]["medium"] == "Memory"
        else:
            assert "nvidia.com/gpu" not in limits
            assert "/dev/shm" not in mounts
        assert volumes[mounts["/home/jovyan"]]["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
        validate(pod, namespace=spawner.namespace)
        validate(pvc, namespace=spawner.namespace)


def validate(manifest: dict, namespace: str) -> None:
    """Strict schema check of one object as it would reach the API server in `namespace`."""
    manifest = copy.deepcopy(manifest)
    manifest["metadata"]["namespace"] = namespace
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_the_strict_check_catches_a_field_the_api_does_not_know(hub_config):
    spawner, pod, _ = spawn(hub_config, {"profile": "gpu-1"})
    pod["spec"]["containers"][0]["gpus"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(pod, namespace=spawner.namespace)


def test_the_pod_runs_in_the_users_namespace_with_the_kubernetes_backend_environment(hub_config):
    spawner, pod, pvc = spawn(hub_config, {"profile": "gpu-1"})
    env = container_env(pod)
    assert spawner.namespace == "hubml-ada"
    assert env["HUBML_NAMESPACE"]["value"] == "hubml-ada"
    assert env["HUBML_BACKEND"]["value"] == "kubernetes"
    assert env["HUBML_USER"]["value"] == "ada"
    assert env["HUBML_HOME"]["value"] == "/home/jovyan/.hubml"
    assert env["HUBML_STORAGE"]["value"] == "s3://team-bucket/users/ada"
    assert env["AWS_ENDPOINT_URL"]["value"] == "https://s3.example.com"
    assert pod["spec"]["serviceAccountName"] == "hubml-notebook"
    assert pod["spec"]["automountServiceAccountToken"] is True
    assert pod["metadata"]["labels"]["hubml.io/user"] == "ada"
    assert pvc["metadata"]["name"] == "hubml-home-ada"


def test_s3_credentials_come_only_from_the_users_secret(hub_config):
    _, pod, _ = spawn(hub_config, {"profile": "cpu-small"})
    env = container_env(pod)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert "value" not in env[key], f"{key} is inline"
        assert env[key]["valueFrom"]["secretKeyRef"]["name"] == "hubml-storage"
        assert env[key]["valueFrom"]["secretKeyRef"]["key"] == key


def test_the_rest_api_shape_and_the_default_profile_also_work(hub_config):
    _, pod, _ = spawn(hub_config, {"profile": "gpu-4", "image": "tensorflow-gpu"})
    assert pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "4"
    _, pod, _ = spawn(hub_config, {})
    assert pod["spec"]["containers"][0]["image"] == "ghcr.io/hubml/notebook:0.1.0"
    assert "nvidia.com/gpu" not in pod["spec"]["containers"][0]["resources"]["limits"]


def test_a_user_may_bring_an_image_through_the_unlisted_choice(hub_config):
    options = form_options("cpu-large", **{"image--unlisted-choice": "registry.example.com/team/nb:1.2"})
    _, pod, _ = spawn(hub_config, options)
    assert pod["spec"]["containers"][0]["image"] == "registry.example.com/team/nb:1.2"
    with pytest.raises(ValueError, match="validation regex"):
        spawn(hub_config, form_options("cpu-large", **{"image--unlisted-choice": "Not An Image!"}))


@pytest.mark.parametrize("options, message", [
    ({"profile": "gpu-99"}, "unknown profile 'gpu-99'; choose one of: cpu-small, cpu-large, gpu-1, gpu-4"),
    (form_options("gpu-1", image="pytorch"), "profile 'gpu-1' has no 'image' choice 'pytorch'; choose one of: tensorflow-gpu"),
    ({"profile": "gpu-1", "profile-option-cpu-small--image": "tensorflow"}, "does not belong to profile 'gpu-1'"),
    ({"profile": "cpu-small", "flavour--unlisted-choice": "x"}, "profile 'cpu-small' has no option 'flavour'"),
])
def test_a_request_for_what_no_profile_offers_is_refused_with_a_clear_message(hub_config, options, message):
    with pytest.raises(web.HTTPError) as refused:
        spawn(hub_config, options)
    assert refused.value.status_code == 400
    assert message in refused.value.log_message % refused.value.args


def test_user_names_become_safe_namespace_and_claim_names(hub_config):
    spawner, pod, pvc = spawn(hub_config, {"profile": "cpu-small"}, username="grace.hopper")
    assert spawner.namespace.startswith("hubml-grace-hopper")
    assert pvc["metadata"]["name"].startswith("hubml-home-grace-hopper")
    assert container_env(pod)["HUBML_USER"]["value"] == "grace.hopper"


def test_the_idle_culler_service_command_runs(hub_config):
    service = next(s for s in hub_config.JupyterHub.services if s["name"] == "idle-culler")
    assert "--timeout=3600" in service["command"]
    result = subprocess.run([*service["command"], "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "--cull-every" in result.stdout, result.stderr[-1000:]
    role = next(r for r in hub_config.JupyterHub.load_roles if r["name"] == "idle-culler")
    assert "delete:servers" in role["scopes"] and role["services"] == ["idle-culler"]


def test_extra_config_switches_the_authenticator_as_documented(monkeypatch, tmp_path):
    """hub_config/README.md's OAuth example, through HUBML_HUB_EXTRA_CONFIG (the chart's hub.config)."""
    extra = tmp_path / "hub-config.json"
    extra.write_text(json.dumps({"JupyterHub": {"authenticator_class": "github"},
                                 "GitHubOAuthenticator": {"client_id": "abc", "allowed_organizations": ["team"]}}))
    monkeypatch.setenv("HUBML_HUB_EXTRA_CONFIG", str(extra))
    config = load_hub_config(monkeypatch, write_kubeconfig(tmp_path / "kubeconfig", "https://127.0.0.1:9"))
    assert config.JupyterHub.authenticator_class == "github"
    assert config.GitHubOAuthenticator.allowed_organizations == ["team"]
    assert config.KubeSpawner.profile_list  # the rest of the configuration stands
