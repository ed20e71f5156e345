"""Every object the Kubernetes backend can produce, validated against the upstream schemas (strict)."""
from __future__ import annotations

import json

import kubernetes_validate
import pytest
from traitlets.config import Config

from hubml.backends.kubernetes import manifests, tenancy
from hubml.backends.kubernetes.manifests import Target
from hubml.backends.kubernetes.options import ClusterOptions
from hubml.exceptions import InvalidArgument
from hubml.specs import DeploySpec, Resources, TrainSpec

# The newest Kubernetes whose schemas the installed kubernetes-validate ships (1.37.0 with kubernetes-validate 1.37.0).
KUBERNETES_VERSION = kubernetes_validate.latest_version()
NAMESPACE, JOB_ID = "hubml-alice", "mnist-0a1b2c"
OWNER = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": JOB_ID, "uid": "6f1c2a34-0000-4000-8000-000000000001"}}


def target(storage: str = "s3://team-bucket/hubml", **options) -> Target:
    return Target(NAMESPACE, "alice", storage, ClusterOptions.resolve(Config(), **options))


def train(**fields) -> TrainSpec:
    return TrainSpec(name="mnist", code="print('hello')", **fields).validate()


JOB_SPECS = {
    "single": train(),
    "multi-worker": train(workers=3),
    "chief-ps-workers": train(chief=True, workers=2, ps=2, retries=2, timeout=3600.5),
    "gpu": train(workers=2, resources=Resources(cpu=4, memory="16Gi", gpus=2)),
    "custom-image": train(image="registry.example.com/team/tf:2.21", resources=Resources(cpu=0.5, memory="512Mi"),
                          labels={"team": "vision"}),
}


def job_objects(spec: TrainSpec, **options) -> list[dict]:
    objects = [manifests.job_record(JOB_ID, spec, target(**options), 1764230400.0)]
    objects += [manifests.owned_by(each, OWNER) for each in manifests.job_manifests(JOB_ID, spec, target(**options))]
    return objects


def role_jobs(spec: TrainSpec) -> dict[str, dict]:
    return {each["metadata"]["labels"]["hubml.io/role"]: each for each in job_objects(spec) if each["kind"] == "Job"}


@pytest.mark.parametrize("case", sorted(JOB_SPECS))
def test_every_job_object_validates_strictly(case):
    for manifest in job_objects(JOB_SPECS[case]):
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("spec", [DeploySpec(name="mnist", model="s3://team-bucket/hubml/models/mnist", replicas=3),
                                  DeploySpec(name="7th", model="s3://team-bucket/hubml/models/mnist", version=4,
                                             batching=True, resources=Resources(cpu=2, memory="4Gi", gpus=1))],
                         ids=["cpu", "gpu-pinned-version"])
def test_every_endpoint_object_validates_strictly(spec):
    for manifest in manifests.endpoint_manifests(spec.validate(), target()):
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_rbac_and_quota_validate_strictly():
    objects = tenancy.namespace_manifests(NAMESPACE, "alice@example.com", {"requests.cpu": "4", "pods": "20"})
    assert [each["kind"] for each in objects] == ["ServiceAccount", "ServiceAccount", "Role", "RoleBinding",
                                                  "NetworkPolicy", "ResourceQuota", "LimitRange"]
    for manifest in objects + tenancy.namespace_manifests(NAMESPACE, "bob", hub_namespace="hubml-system"):
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_a_file_storage_job_mounts_its_claim_and_validates():
    for manifest in job_objects(train(workers=2), storage="file:///mnt/hubml", storage_claim="hubml-storage"):
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_one_indexed_job_per_role_with_completions_equal_parallelism_equal_replicas():
    jobs = role_jobs(JOB_SPECS["chief-ps-workers"])
    assert {role: (job["spec"]["completions"], job["spec"]["parallelism"], job["spec"]["completionMode"])
            for role, job in jobs.items()} == {"chief": (1, 1, "Indexed"), "worker": (2, 2, "Indexed"),
                                               "ps": (2, 2, "Indexed")}
    service = next(each for each in job_objects(JOB_SPECS["chief-ps-workers"]) if each["kind"] == "Service")
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["selector"] == {"hubml.io/job": JOB_ID}


def test_tf_config_addresses_are_the_dns_names_kubernetes_gives_the_pods():
    """Indexed Job pods are named host `<job>-<index>`; with `subdomain` = the headless Service they
    resolve as `<host>.<service>.<namespace>.svc.<domain>`; TF_CONFIG must list exactly those."""
    jobs = role_jobs(JOB_SPECS["chief-ps-workers"])
    for role, job in jobs.items():
        pod = job["spec"]["template"]["spec"]
        environment = {each["name"]: each.get("value") for each in pod["containers"][0]["env"]}
        cluster = json.loads(environment["HUBML_TF_CLUSTER"])
        assert environment["HUBML_ROLE"] == role
        for index in range(job["spec"]["completions"]):
            hostname = f"{job['metadata']['name']}-{index}"  # what Kubernetes sets for an Indexed Job's pod
            dns = f"{hostname}.{pod['subdomain']}.{NAMESPACE}.svc.cluster.local"
            assert cluster[role][index] == f"{dns}:2222"
            assert dns == f"{JOB_ID}-{role}-{index}.{JOB_ID}.{NAMESPACE}.svc.cluster.local"


def test_the_cluster_domain_is_configurable():
    job = role_jobs(train(workers=2))["worker"]
    environment = {each["name"]: each.get("value") for each in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "svc.cluster.local:" in environment["HUBML_TF_CLUSTER"]
    job = [each for each in job_objects(train(workers=2), cluster_domain="corp.internal") if each["kind"] == "Job"][0]
    environment = {each["name"]: each.get("value") for each in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert json.loads(environment["HUBML_TF_CLUSTER"])["worker"][1].endswith(".svc.corp.internal:2222")


def test_retries_timeout_and_ttl():
    job = role_jobs(JOB_SPECS["chief-ps-workers"])["worker"]["spec"]
    # Each index may fail once per lost attempt (hubml/runtime/retries.py); one index past that fails the Job.
    assert (job["backoffLimitPerIndex"], job["maxFailedIndexes"]) == (2, 0)
    assert job["activeDeadlineSeconds"] == 3601
    assert job["ttlSecondsAfterFinished"] == 7 * 24 * 3600
    (rule,) = job["podFailurePolicy"]["rules"]  # an evicted pod counts as a lost attempt: no Ignore rule
    assert rule["action"] == "FailJob" and rule["onExitCodes"]["values"] == [1, 3]
    assert job["template"]["spec"]["restartPolicy"] == "Never"  # podFailurePolicy requires it
    assert "activeDeadlineSeconds" not in role_jobs(train())["worker"]["spec"]


def test_gpu_jobs_get_the_device_the_node_selector_and_the_tolerations():
    pod = role_jobs(JOB_SPECS["gpu"])["worker"]["spec"]["template"]["spec"]
    resources = pod["containers"][0]["resources"]
    assert resources["limits"] == {"cpu": "4000m", "memory": "16384Mi", "nvidia.com/gpu": "2"}
    assert resources["requests"] == resources["limits"]
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    cpu_pod = role_jobs(train())["worker"]["spec"]["template"]["spec"]
    assert "nodeSelector" not in cpu_pod and "tolerations" not in cpu_pod


def test_gpu_jobs_get_the_gpu_capable_runtime_image():
    options = ClusterOptions.resolve(Config())
    gpu = role_jobs(JOB_SPECS["gpu"])["worker"]["spec"]["template"]["spec"]["containers"][0]
    cpu = role_jobs(train())["worker"]["spec"]["template"]["spec"]["containers"][0]
    assert gpu["image"] == options.gpu_runtime_image == "ghcr.io/hubml/runtime:0.1.0-gpu"
    assert cpu["image"] == options.runtime_image == "ghcr.io/hubml/runtime:0.1.0"
    own = role_jobs(train(image="registry.example.com/team/tf:2.21-gpu", resources=Resources(gpus=1)))
    assert own["worker"]["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example.com/team/tf:2.21-gpu"
    custom = ClusterOptions.resolve(Config(), gpu_runtime_image="registry.example.com/hubml/runtime:cuda12")
    pod = manifests.role_job(JOB_ID, JOB_SPECS["gpu"].validate(), "worker", 2, Target(NAMESPACE, "alice",
                             "s3://bucket/hubml", custom))["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "registry.example.com/hubml/runtime:cuda12"


def test_a_custom_image_gets_the_runtime_injected_by_an_init_container():
    pod = role_jobs(JOB_SPECS["custom-image"])["worker"]["spec"]["template"]["spec"]
    container, init = pod["containers"][0], pod["initContainers"][0]
    assert container["image"] == "registry.example.com/team/tf:2.21"
    assert container["command"] == ["python3", "-m", "hubml.runtime.k8s_entry"]
    assert init["image"] == ClusterOptions.resolve(Config()).runtime_image
    shared = {mount["name"] for mount in init["volumeMounts"]} & {mount["name"] for mount in container["volumeMounts"]}
    assert shared == {"hubml-runtime"}
    assert {"name": "PYTHONPATH", "value": manifests.RUNTIME_MOUNT} in container["env"]
    default_pod = role_jobs(train())["worker"]["spec"]["template"]["spec"]
    assert "initContainers" not in default_pod


def test_labels_on_every_job_object_and_pod():
    for manifest in job_objects(JOB_SPECS["custom-image"])[1:]:
        labels = manifest["metadata"]["labels"]
        assert labels["hubml.io/job"] == JOB_ID and labels["hubml.io/user"] == "alice"
        if manifest["kind"] == "Job":
            pod_labels = manifest["spec"]["template"]["metadata"]["labels"]
            assert pod_labels["hubml.io/role"] == labels["hubml.io/role"] and pod_labels["team"] == "vision"


def test_storage_credentials_only_through_a_secret_reference():
    for manifest in job_objects(JOB_SPECS["custom-image"]) + manifests.endpoint_manifests(
            DeploySpec(name="m", model="s3://b/models/m").validate(), target()):
        pod = manifest.get("spec", {}).get("template", {}).get("spec")
        for container in (pod or {}).get("containers", []) + (pod or {}).get("initContainers", []):
            names = {each["name"] for each in container.get("env", [])}
            assert not names & set(manifests.STORAGE_CREDENTIALS)
            if container["name"] != manifests.SERVING_CONTAINER:
                assert container["envFrom"] == [{"secretRef": {"name": "hubml-storage", "optional": True}}]
    with pytest.raises(InvalidArgument, match="storage Secret"):
        manifests.job_manifests(JOB_ID, train(env={"AWS_SECRET_ACCESS_KEY": "marker"}), target())


def test_local_storage_needs_a_claim_and_bad_labels_are_refused():
    with pytest.raises(InvalidArgument, match="storage_claim"):
        manifests.job_manifests(JOB_ID, train(), target("file:///home/alice/.hubml/storage"))
    with pytest.raises(InvalidArgument, match="hubml.io/"):
        manifests.job_manifests(JOB_ID, train(labels={"hubml.io/user": "bob"}), target())


def test_the_endpoint_serves_the_model_copied_by_an_init_container():
    spec = DeploySpec(name="7th", model="s3://b/hubml/models/mnist", version=4, replicas=2, batching=True).validate()
    deployment, service = manifests.endpoint_manifests(spec, target())
    pod = deployment["spec"]["template"]["spec"]
    fetch, serving = pod["initContainers"][0], pod["containers"][0]
    assert fetch["command"][-2:] == ["s3://b/hubml/models/mnist/4", "/models/mnist/4"]
    assert fetch["image"] == "ghcr.io/hubml/model-fetch:0.1.0"
    assert serving["image"] == "tensorflow/serving:2.19.1"
    assert "--model_name=mnist" in serving["args"] and "--enable_batching=true" in serving["args"]
    assert serving["readinessProbe"]["httpGet"] == {"path": "/v1/models/mnist", "port": 8501}
    assert {port["containerPort"] for port in serving["ports"]} == {8500, 8501}
    assert deployment["spec"]["replicas"] == 2
    assert service["metadata"]["name"] == "s-7th"  # Service names must start with a letter
    assert {port["port"] for port in service["spec"]["ports"]} == {8500, 8501}


def test_the_notebook_role_stays_in_its_namespace_and_reads_secrets_only():
    objects = tenancy.namespace_manifests(NAMESPACE, "alice")
    assert not [each for each in objects if each["kind"].startswith("Cluster")]
    role = next(each for each in objects if each["kind"] == "Role")
    binding = next(each for each in objects if each["kind"] == "RoleBinding")
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == NAMESPACE
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "hubml-notebook"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "hubml-notebook", "namespace": NAMESPACE}]
    verbs = {(group, resource): rule["verbs"] for rule in role["rules"]
             for group in rule["apiGroups"] for resource in rule["resources"]}
    assert set(verbs) == {("batch", "jobs"), ("batch", "cronjobs"), ("", "pods"), ("", "pods/log"), ("", "services"),
                          ("", "configmaps"), ("apps", "deployments"), ("", "secrets"), ("", "resourcequotas"),
                          ("", "limitranges"), ("", "events")}
    assert verbs["", "events"] == verbs["", "limitranges"] == verbs["", "pods"] == ["get", "list", "watch"]
    assert verbs["", "secrets"] == ["get", "list", "watch"]
    assert "*" not in json.dumps(role["rules"])


def test_the_tenancy_command_prints_a_kubectl_list(capsys, tmp_path):
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text("- slug: gpu-1\n  quota:\n    requests.nvidia.com/gpu: 2\n    pods: 10\n")
    assert tenancy.main([NAMESPACE, "--user", "alice", "--profiles", str(profiles), "--profile", "gpu-1"]) == 0
    listed = json.loads(capsys.readouterr().out)
    quota = next(each for each in listed["items"] if each["kind"] == "ResourceQuota")
    assert quota["spec"]["hard"] == {"requests.nvidia.com/gpu": "2", "pods": "10"}
    with pytest.raises(InvalidArgument, match="no profile 'cpu'"):
        tenancy.main([NAMESPACE, "--user", "alice", "--profiles", str(profiles), "--profile", "cpu"])


def test_the_validation_is_strict_enough_to_catch_a_misspelled_field():
    job = role_jobs(train())["worker"]
    job["spec"]["completionMod"] = job["spec"].pop("completionMode")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)
