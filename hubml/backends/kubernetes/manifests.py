"""Specs in, Kubernetes objects out: pure functions returning plain dicts.

A training job is
    a ConfigMap `<id>`             its record: spec, user, submission time, final state once known
    a headless Service `<id>`      DNS for the replicas, and nothing else
    one Indexed Job per role       `<id>-chief`, `<id>-worker`, `<id>-ps`; completions = parallelism = replicas

An Indexed Job names each pod's host `<job name>-<index>`; with the pod's
`subdomain` set to the Service, replica i of role r answers at
`<id>-<r>-<i>.<service>.<namespace>.svc.<cluster domain>`, and those are the
addresses every pod's TF_CONFIG lists (built at start from its role and
`JOB_COMPLETION_INDEX` by `hubml.runtime.k8s_entry`).

An endpoint is a Deployment of the official `tensorflow/serving` image, whose
init container copies the model from storage into an emptyDir, and a Service.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from hubml import storage
from hubml.backends.base import served_model_name
from hubml.backends.kubernetes.options import ClusterOptions
from hubml.exceptions import InvalidArgument
from hubml.redaction import is_secret_name, redact_spec
from hubml.runtime.retries import CODE_ERROR_EXIT_CODES
from hubml.specs import DeploySpec, Resources, TrainSpec
from hubml.tfconfig import cluster_spec

JOB_LABEL, USER_LABEL, ROLE_LABEL = "hubml.io/job", "hubml.io/user", "hubml.io/role"
RECORD_LABEL, ENDPOINT_LABEL = "hubml.io/record", "hubml.io/endpoint"
INDEX_LABEL = "batch.kubernetes.io/job-completion-index"
REPLICA_CONTAINER, SERVING_CONTAINER = "replica", "serving"
GRPC_PORT, REST_PORT = 8500, 8501
WORK_MOUNT, RUNTIME_MOUNT, MODELS_MOUNT = "/var/hubml", "/opt/hubml-runtime", "/models"
STORAGE_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
COPY_RUNTIME = ("import hubml, os, shutil, sys; shutil.copytree(os.path.dirname(hubml.__file__), "
                "os.path.join(sys.argv[1], 'hubml'), dirs_exist_ok=True)")
FETCH_MODEL = "import sys; from hubml import storage; storage.download(sys.argv[1], sys.argv[2])"


@dataclass(frozen=True)
class Target:
    """Where the objects go: the namespace, whose they are, the storage they read, the cluster's options."""

    namespace: str
    user: str
    storage: str
    options: ClusterOptions


# --- names and labels ----------------------------------------------------------------


def label_value(text: str) -> str:
    """`text` as a label value: at most 63 of [-A-Za-z0-9_.], alphanumeric at both ends."""
    cleaned = re.sub(r"[^-A-Za-z0-9_.]", "-", text)[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", cleaned)


def service_name(name: str) -> str:
    """Service names are DNS-1035 labels, which must start with a letter; hubml names may start with a digit."""
    return name if name[0].isalpha() else f"s-{name}"


def replica_host(job_id: str, role: str, index: int, target: Target) -> str:
    domain = target.options.cluster_domain
    return f"{job_id}-{role}-{index}.{service_name(job_id)}.{target.namespace}.svc.{domain}"


def owned_by(manifest: dict[str, Any], owner: dict[str, Any]) -> dict[str, Any]:
    """`manifest`, garbage-collected with `owner` (an object as the API server returned it)."""
    # No blockOwnerDeletion: it needs rights on the owner's finalizers that a notebook's Role has no reason to
    # hold (OwnerReferencesPermissionEnforcement), and hubml never deletes a record in the foreground.
    reference = {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
                 "uid": owner["metadata"]["uid"]}
    manifest["metadata"]["ownerReferences"] = [reference]
    return manifest


def _metadata(name: str, target: Target, labels: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": target.namespace,
            "labels": {USER_LABEL: label_value(target.user), **labels}, **extra}


def user_labels(spec: TrainSpec) -> dict[str, str]:
    for key, value in spec.labels.items():
        if key.startswith("hubml.io/") or not LABEL_VALUE.match(str(value)) or len(str(value)) > 63:
            raise InvalidArgument("labels", f"{key}={value!r}: keys under hubml.io/ are hubml's own, and values "
                                  "are at most 63 letters, digits, '-', '_' or '.'")
    return {key: str(value) for key, value in spec.labels.items()}


# --- training jobs -------------------------------------------------------------------


def job_record(job_id: str, spec: TrainSpec, target: Target, submitted_at: float) -> dict[str, Any]:
    """The ConfigMap that is the job's record; the backend adds the final state once it sees it."""
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": _metadata(job_id, target, {JOB_LABEL: job_id, RECORD_LABEL: "job"},
                              annotations={"hubml.io/user": target.user, "hubml.io/submitted-at": repr(submitted_at)}),
        "data": {"spec.json": json.dumps(redact_spec(spec.to_dict()), default=str)},
    }


def job_manifests(job_id: str, spec: TrainSpec, target: Target) -> list[dict[str, Any]]:
    """The headless Service, then one Indexed Job per role, in the order they are created."""
    check_environment(spec, target)
    return [headless_service(job_id, target)] + [
        role_job(job_id, spec, role, count, target) for role, count in spec.replicas.items()
    ]


def check_environment(spec: TrainSpec, target: Target) -> None:
    """A Job's environment is plain text to anyone who can read the Job: secrets come from a Secret."""
    for key in spec.env:
        if key in STORAGE_CREDENTIALS:
            raise InvalidArgument("env", f"{key} is a storage credential: it comes from the namespace's "
                                  "storage Secret, never from the job's environment")
        if is_secret_name(key):
            raise InvalidArgument("env", f"{key} looks like a secret, which a Job would show in plain text: add it "
                                  f"to the Secret {target.options.storage_secret!r} in your namespace instead, "
                                  "whose keys every replica gets as environment variables")


def headless_service(job_id: str, target: Target) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": _metadata(service_name(job_id), target, {JOB_LABEL: job_id}),
        # Replicas dial each other before any of them is "ready": publish their addresses at once.
        "spec": {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": {JOB_LABEL: job_id},
                 "ports": [{"name": "tf", "port": target.options.tf_port}]},
    }


def role_job(job_id: str, spec: TrainSpec, role: str, count: int, target: Target) -> dict[str, Any]:
    labels = {JOB_LABEL: job_id, ROLE_LABEL: role, **user_labels(spec)}
    job_spec: dict[str, Any] = {
        "completionMode": "Indexed",
        "completions": count,
        "parallelism": count,
        # An attempt that is lost ends every replica's pod (hubml.runtime.k8s_entry), so each index fails once
        # per attempt: --retries N allows each index N more pods, and one index out of them fails the Job.
        "backoffLimitPerIndex": spec.retries,
        "maxFailedIndexes": 0,
        "podFailurePolicy": {"rules": [
            # A code error, or requirements that cannot be installed: the same code would fail again.
            {"action": "FailJob", "onExitCodes": {"containerName": REPLICA_CONTAINER, "operator": "In",
                                                  "values": list(CODE_ERROR_EXIT_CODES)}},
        ]},
        "ttlSecondsAfterFinished": target.options.ttl_seconds_after_finished,
        "template": {"metadata": {"labels": {USER_LABEL: label_value(target.user), **labels}},
                     "spec": replica_pod(job_id, spec, role, target)},
    }
    if spec.timeout:
        job_spec["activeDeadlineSeconds"] = math.ceil(spec.timeout)
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": _metadata(f"{job_id}-{role}", target, labels),
            "spec": job_spec}


def replica_pod(job_id: str, spec: TrainSpec, role: str, target: Target) -> dict[str, Any]:
    options = target.options
    container = {
        "name": REPLICA_CONTAINER,
        "image": spec.image or (options.gpu_runtime_image if spec.resources.gpus else options.runtime_image),
        "command": ["python3", "-m", "hubml.runtime.k8s_entry"],
        "env": [{"name": key, "value": value} for key, value in replica_environment(job_id, spec, role, target)],
        "ports": [{"name": "tf", "containerPort": options.tf_port}],
        "resources": container_resources(spec.resources),
        "volumeMounts": [{"name": "work", "mountPath": WORK_MOUNT}, {"name": "dshm", "mountPath": "/dev/shm"}],
    }
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "subdomain": service_name(job_id),
        "serviceAccountName": options.job_service_account,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "containers": [container],
        # A memory-backed /dev/shm: the container default (64 MiB) starves tf.data and NCCL.
        "volumes": [{"name": "work", "emptyDir": {}}, {"name": "dshm", "emptyDir": {"medium": "Memory"}}],
    }
    if spec.image:
        inject_runtime(pod, container, options.runtime_image)
    add_storage_access(pod, container, target)
    if spec.resources.gpus:
        add_gpu_placement(pod, options)
    return pod


def replica_environment(job_id: str, spec: TrainSpec, role: str, target: Target) -> list[tuple[str, str]]:
    """The job contract's variables; TF_CONFIG itself is built in the pod from HUBML_TF_CLUSTER."""
    environment = [
        ("HUBML_BACKEND", "kubernetes"), ("HUBML_JOB_ID", job_id),
        ("HUBML_JOB_URL", storage.join(target.storage, "jobs", job_id)), ("HUBML_STORAGE", target.storage),
        ("HUBML_USER", target.user), ("HUBML_NAMESPACE", target.namespace), ("HUBML_ROLE", role),
        ("HUBML_WORKDIR", f"{WORK_MOUNT}/work"), ("HUBML_HOME", f"{WORK_MOUNT}/home"), ("PYTHONUNBUFFERED", "1"),
    ]
    if spec.distributed:
        port = target.options.tf_port
        cluster = cluster_spec(spec.replicas, lambda r, i: f"{replica_host(job_id, r, i, target)}:{port}")
        environment.append(("HUBML_TF_CLUSTER", json.dumps(cluster)))
    return environment + [(key, str(value)) for key, value in spec.env.items()]


def inject_runtime(pod: dict[str, Any], container: dict[str, Any], runtime_image: str) -> None:
    """Bring your own image: an init container copies hubml (pure Python) into it, so the contract holds.

    The image needs only `python3` (3.10 or newer) and what the code imports;
    on object storage also `fsspec` and `s3fs`, which the runtime uses to fetch
    the bundle and save checkpoints, metrics and the model.
    """
    pod["volumes"].append({"name": "hubml-runtime", "emptyDir": {}})
    pod["initContainers"] = [{
        "name": "hubml-runtime", "image": runtime_image,
        "command": ["python3", "-c", COPY_RUNTIME, RUNTIME_MOUNT],
        "volumeMounts": [{"name": "hubml-runtime", "mountPath": RUNTIME_MOUNT}],
    }]
    container["env"].append({"name": "PYTHONPATH", "value": RUNTIME_MOUNT})
    container["volumeMounts"].append({"name": "hubml-runtime", "mountPath": RUNTIME_MOUNT, "readOnly": True})


def add_storage_access(pod: dict[str, Any], container: dict[str, Any], target: Target) -> None:
    """Object storage through the namespace's Secret (a reference, never a value); file:// through a claim."""
    options = target.options
    containers = [container, *pod.get("initContainers", [])]
    if options.storage_secret:
        for each in containers:
            each["envFrom"] = [{"secretRef": {"name": options.storage_secret, "optional": True}}]
    if storage.is_local(target.storage):
        if not options.storage_claim:
            raise InvalidArgument("storage", f"{target.storage} is a local folder, which pods cannot reach: use "
                                  "object storage (s3://...) or set c.Kubernetes.storage_claim to the "
                                  "PersistentVolumeClaim that holds it")
        pod["volumes"].append({"name": "storage", "persistentVolumeClaim": {"claimName": options.storage_claim}})
        for each in containers:
            each.setdefault("volumeMounts", []).append(
                {"name": "storage", "mountPath": storage.local_path(target.storage)})


def add_gpu_placement(pod: dict[str, Any], options: ClusterOptions) -> None:
    if options.gpu_node_selector:
        pod["nodeSelector"] = dict(options.gpu_node_selector)
    if options.gpu_tolerations:
        pod["tolerations"] = [dict(toleration) for toleration in options.gpu_tolerations]


def container_resources(resources: Resources) -> dict[str, Any]:
    """Requests equal to limits: a replica gets exactly what it asked for (Guaranteed QoS)."""
    amounts = {}
    if resources.cpu:
        amounts["cpu"] = f"{round(resources.cpu * 1000)}m"
    if resources.memory:
        memory = int(resources.memory)
        amounts["memory"] = f"{memory // 2**20}Mi" if memory % 2**20 == 0 else str(memory)
    if resources.gpus:
        amounts["nvidia.com/gpu"] = str(resources.gpus)
    return {"requests": dict(amounts), "limits": dict(amounts)} if amounts else {}


# --- endpoints -----------------------------------------------------------------------


def endpoint_manifests(spec: DeploySpec, target: Target) -> list[dict[str, Any]]:
    """A TF Serving Deployment and its Service; `spec.model` is the model's base URL in storage."""
    return [serving_deployment(spec, target), serving_service(spec, target)]


def serving_deployment(spec: DeploySpec, target: Target) -> dict[str, Any]:
    options = target.options
    model = served_model_name(spec.model)
    labels = {ENDPOINT_LABEL: spec.name}
    source, destination = spec.model, f"{MODELS_MOUNT}/{model}"
    if spec.version is not None:
        source, destination = storage.join(spec.model, str(spec.version)), f"{destination}/{spec.version}"
    fetch = {"name": "fetch-model", "image": options.model_fetch_image,
             "command": ["python3", "-c", FETCH_MODEL, source, destination],
             "volumeMounts": [{"name": "models", "mountPath": MODELS_MOUNT}]}
    arguments = [f"--port={GRPC_PORT}", f"--rest_api_port={REST_PORT}", f"--model_name={model}",
                 f"--model_base_path={MODELS_MOUNT}/{model}"]
    if spec.batching:
        arguments.append("--enable_batching=true")
    serving = {
        "name": SERVING_CONTAINER,
        "image": options.serving_image + ("-gpu" if spec.resources.gpus else ""),
        **({"command": list(options.serving_command)} if options.serving_command else {}),
        "args": arguments,
        "ports": [{"name": "grpc", "containerPort": GRPC_PORT}, {"name": "http", "containerPort": REST_PORT}],
        "readinessProbe": {"httpGet": {"path": f"/v1/models/{model}", "port": REST_PORT},
                           "periodSeconds": 5, "failureThreshold": 3},
        "resources": container_resources(spec.resources),
        "volumeMounts": [{"name": "models", "mountPath": MODELS_MOUNT, "readOnly": True}],
    }
    pod: dict[str, Any] = {"serviceAccountName": options.job_service_account, "automountServiceAccountToken": False,
                           "enableServiceLinks": False, "initContainers": [fetch], "containers": [serving],
                           "volumes": [{"name": "models", "emptyDir": {}}]}
    add_storage_access(pod, fetch, target)
    if spec.resources.gpus:
        add_gpu_placement(pod, options)
    annotations = {"hubml.io/spec": json.dumps(spec.to_dict())}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": _metadata(spec.name, target, labels, annotations=annotations),
        "spec": {"replicas": spec.replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": {USER_LABEL: label_value(target.user), **labels}},
                              "spec": pod}},
    }


def serving_service(spec: DeploySpec, target: Target) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": _metadata(service_name(spec.name), target, {ENDPOINT_LABEL: spec.name}),
        "spec": {"selector": {ENDPOINT_LABEL: spec.name},
                 "ports": [{"name": "grpc", "port": GRPC_PORT, "targetPort": "grpc", "appProtocol": "grpc"},
                           {"name": "http", "port": REST_PORT, "targetPort": "http"}]},
    }


def endpoint_host(name: str, target: Target) -> str:
    return f"{service_name(name)}.{target.namespace}.svc.{target.options.cluster_domain}"
