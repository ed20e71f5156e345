"""helm/hubml rendered and linted by Helm's own engine (helm-python-sdk), every object validated.

No cluster: Helm renders offline (its `lookup` finds nothing, so generated
secrets are fresh), and kubernetes-validate checks each object against the
API schema of a current Kubernetes release in strict mode.
"""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from hub_testing import REPO_ROOT
from hubml.backends.kubernetes import tenancy

CHART = REPO_ROOT / "helm" / "hubml"
GPU_VALUES = yaml.safe_load((REPO_ROOT / "helm" / "examples" / "gpu-values.yaml").read_text())
KUBERNETES_VERSION = kubernetes_validate.latest_version()
VALUE_SETS = {"default": None, "gpu": GPU_VALUES}
SOURCES = {
    "jupyterhub_config.py": REPO_ROOT / "hub_config" / "jupyterhub_config.py",
    "__init__.py": REPO_ROOT / "hub_config" / "__init__.py",
    "profiles.py": REPO_ROOT / "hub_config" / "profiles.py",
    "tenancy.py": REPO_ROOT / "hub_config" / "tenancy.py",
    "local_home.py": REPO_ROOT / "hub_config" / "local_home.py",
    "profiles.yaml": REPO_ROOT / "spawner_profiles" / "profiles.yaml",
}


def render(values: dict | None) -> list[dict]:
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(values, name="hubml", namespace="hubml-system", is_install=True)
    objects = []
    for template, text in sorted(rendered.items()):
        if template.endswith(".yaml"):
            objects += [document for document in yaml.safe_load_all(text) if document]
    return objects


def find(objects: list[dict], kind: str, name: str) -> dict:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: found {len(matches)}"
    return matches[0]


def hub_env(objects: list[dict]) -> dict:
    container = find(objects, "Deployment", "hub")["spec"]["template"]["spec"]["containers"][0]
    return {item["name"]: item for item in container["env"]}


@pytest.fixture(scope="module", params=list(VALUE_SETS), ids=list(VALUE_SETS))
def rendered(request):
    return request.param, render(VALUE_SETS[request.param])


@pytest.mark.parametrize("name", list(VALUE_SETS))
def test_helm_lint_is_clean_in_strict_mode(name):
    report = helm.lint(CHART, VALUE_SETS[name], strict=True, namespace="hubml-system",
                       kube_version=f"v{KUBERNETES_VERSION}.0")
    assert report["errors"] == [] and report["messages"] == [], report


def test_every_rendered_object_validates_strictly(rendered):
    _, objects = rendered
    assert {o["kind"] for o in objects} >= {"ConfigMap", "Secret", "ServiceAccount", "ClusterRole",
                                            "ClusterRoleBinding", "PersistentVolumeClaim", "Deployment", "Service"}
    for manifest in objects:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_the_configmap_carries_hub_config_and_profiles_unchanged(rendered):
    """One source of truth: helm/hubml/files/ links to hub_config/ and spawner_profiles/."""
    _, objects = rendered
    data = find(objects, "ConfigMap", "hub-config")["data"]
    assert set(data) == set(SOURCES)
    for key, source in SOURCES.items():
        assert data[key] == source.read_text().rstrip("\n"), f"{key} differs from {source}"
    for link in (CHART / "files").iterdir():
        assert link.is_symlink() and link.resolve() == SOURCES[link.name].resolve()


def test_gpu_values_turn_on_gpu_profiles_and_the_device_plugin(rendered):
    name, objects = rendered
    gpu = name == "gpu"
    assert hub_env(objects)["HUBML_GPU_PROFILES"]["value"] == ("true" if gpu else "false")
    plugins = [o for o in objects if o["kind"] == "DaemonSet"]
    assert len(plugins) == (1 if gpu else 0)
    if gpu:
        assert plugins[0]["spec"]["template"]["spec"]["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
        assert json.loads(hub_env(objects)["HUBML_SINGLEUSER_EXTRA_ENV"]["value"]) == {"TF_FORCE_GPU_ALLOW_GROWTH": "true"}
        assert hub_env(objects)["HUBML_STORAGE_SECRET"]["value"] == "team-s3-keys"


def test_the_hub_holds_every_permission_the_notebook_role_grants(rendered):
    """Kubernetes refuses to let the hub create a Role granting more than it holds."""
    _, objects = rendered
    held = find(objects, "ClusterRole", "hubml-hubml-hub")["rules"]
    for rule in tenancy.NOTEBOOK_RULES:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted = {verb for r in held if group in r["apiGroups"] and resource in r["resources"] for verb in r["verbs"]}
                assert set(rule["verbs"]) <= granted, (group, resource, set(rule["verbs"]) - granted)
    binding = find(objects, "ClusterRoleBinding", "hubml-hubml-hub")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "hub", "namespace": "hubml-system"}]


def test_secrets_are_generated_when_not_given_and_only_referenced_by_pods():
    objects = render(None)
    secret = find(objects, "Secret", "hub")["data"]
    assert len(base64.b64decode(secret["hub.password"])) == 32
    assert len(base64.b64decode(secret["proxy.token"])) == 32
    env = hub_env(objects)
    for name in ("CONFIGPROXY_AUTH_TOKEN", "HUBML_HUB_PASSWORD", "HUBML_HUB_ADMIN_PASSWORD"):
        assert "value" not in env[name] and env[name]["valueFrom"]["secretKeyRef"]["name"] == "hub"
    assert not [o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"] == "hubml-storage"]


def test_s3_keys_given_as_values_become_the_shared_storage_secret():
    objects = render({"storage": {"s3": {"bucket": "models", "accessKeyId": "AKIA1", "secretAccessKey": "s3cret"}}})
    data = find(objects, "Secret", "hubml-storage")["data"]
    assert base64.b64decode(data["AWS_SECRET_ACCESS_KEY"]) == b"s3cret"
    assert hub_env(objects)["HUBML_S3_BUCKET"]["value"] == "models"
    assert "s3cret" not in json.dumps(find(objects, "Deployment", "hub"))


def test_a_secret_key_without_its_partner_is_refused():
    with pytest.raises(helm.HelmError, match="storage.s3.secretAccessKey is required"):
        render({"storage": {"s3": {"accessKeyId": "AKIA1"}}})


def test_z2jh_value_names_work():
    profiles = [{"display_name": "Tiny", "slug": "tiny", "kubespawner_override": {"cpu_limit": 1}}]
    objects = render({"singleuser": {"profileList": profiles, "storage": {"capacity": "50Gi",
                      "dynamic": {"storageClass": "fast"}}, "extraEnv": {"TEAM": "vision"}},
                      "hub": {"config": {"JupyterHub": {"authenticator_class": "github"}}},
                      "proxy": {"service": {"type": "ClusterIP"}}, "cull": {"timeout": 600}})
    assert yaml.safe_load(find(objects, "ConfigMap", "hub-config")["data"]["profiles.yaml"]) == profiles
    env = hub_env(objects)
    assert env["HUBML_HOME_CAPACITY"]["value"] == "50Gi"
    assert env["HUBML_HOME_STORAGE_CLASS"]["value"] == "fast"
    assert json.loads(env["HUBML_SINGLEUSER_EXTRA_ENV"]["value"]) == {"TEAM": "vision"}
    assert env["HUBML_CULL_TIMEOUT"]["value"] == "600"
    config = json.loads(base64.b64decode(find(objects, "Secret", "hub")["data"]["hub-config.json"]))
    assert config == {"JupyterHub": {"authenticator_class": "github"}}
    assert find(objects, "Service", "proxy-public")["spec"]["type"] == "ClusterIP"


def test_every_hub_environment_variable_is_read_by_the_hub_config():
    read = "".join(SOURCES[name].read_text() for name in ("jupyterhub_config.py", "tenancy.py", "profiles.py"))
    for name in hub_env(render(GPU_VALUES)):
        if name != "CONFIGPROXY_AUTH_TOKEN":  # read by JupyterHub itself
            assert f'"{name}"' in read or f"'{name}'" in read, f"the chart sets {name}, which the hub config never reads"


@pytest.mark.parametrize("name", list(VALUE_SETS))
def test_the_mounted_config_loads_in_kubernetes_mode_with_the_charts_environment(name, tmp_path):
    """Write the ConfigMap as the pod sees it, and load it with JupyterHub's config loader in a fresh process."""
    objects = render(VALUE_SETS[name])
    mount = tmp_path / "hub_config"
    mount.mkdir()
    for key, text in find(objects, "ConfigMap", "hub-config")["data"].items():
        (mount / key).write_text(text)
    extra = tmp_path / "hub-config.json"
    extra.write_text(base64.b64decode(find(objects, "Secret", "hub")["data"]["hub-config.json"]).decode())
    env = {key: item.get("value", "from-a-secret") for key, item in hub_env(objects).items()}
    env.update(HUBML_PROFILES=str(mount / "profiles.yaml"), HUBML_HUB_EXTRA_CONFIG=str(extra), POD_NAMESPACE="hubml-system")
    script = (
        "from traitlets.config.loader import PyFileConfigLoader\n"
        f"c = PyFileConfigLoader('jupyterhub_config.py', path={str(mount)!r}).load_config()\n"
        "import json, hub_config\n"
        "print(json.dumps({'module': hub_config.__file__, 'slugs': [p['slug'] for p in c.KubeSpawner.profile_list],\n"
        "                  'namespace': c.KubeSpawner.user_namespace_template, 'hub': c.JupyterHub.hub_connect_ip,\n"
        "                  'services': [s['name'] for s in c.JupyterHub.services]}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env={"PATH": os.environ["PATH"], **env})
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(loaded["module"]).parent == mount  # imported from the mounted files, not the repository
    gpu_slugs = ["gpu-1", "gpu-4"] if name == "gpu" else []
    assert loaded["slugs"] == ["cpu-small", "cpu-large", *gpu_slugs]
    assert loaded["namespace"] == "hubml-{username}"
    assert loaded["hub"] == "hub.hubml-system.svc"
    assert loaded["services"] == ["idle-culler", "hubml-admin"]  # the API token is set (here, from a Secret)


@pytest.mark.parametrize("values, message", [
    ({"gpu": {"enabeld": True}}, "additional properties 'enabeld' not allowed"),
    ({"proxy": {"service": {"type": "Public"}}}, "value must be one of 'ClusterIP', 'NodePort', 'LoadBalancer'"),
    ({"hub": {"password": "short"}}, "minLength: got 5, want 8"),
    ({"cull": {"timeout": "1h"}}, "got string, want integer"),
    ({"singleuser": {"profileList": [{"display_name": "GPU", "slug": "Big GPU"}]}}, "/singleuser/profileList/0/slug"),
])
def test_wrong_values_are_refused_by_the_schema_with_where_and_why(values, message):
    with pytest.raises(helm.HelmValuesError) as refused:
        render(values)
    assert message in str(refused.value)
