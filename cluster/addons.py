"""What runs on the cluster once its node is up, applied as an administrator would: cluster DNS (CoreDNS),
and volumes for PersistentVolumeClaims (local-path-provisioner, the default StorageClass `local-path`).

Objects are applied with server-side apply through the official client's
dynamic API, so applying twice changes nothing.
"""
from __future__ import annotations

import json
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as kube_config
from kubernetes import dynamic

from cluster import build, images, layout

FIELD_MANAGER = "hubml-cluster"
COREFILE = f""".:53 {{
    errors
    health {{
        lameduck 5s
    }}
    ready
    kubernetes {layout.CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }}
    forward . /etc/resolv.conf
    cache 30
    loop
    reload
    loadbalance
}}
"""


def admin_client(kubeconfig: str) -> k8s.ApiClient:
    return kube_config.new_client_from_config(config_file=kubeconfig)


def apply(api_client: k8s.ApiClient, manifests: list[dict[str, Any]]) -> None:
    resources = dynamic.DynamicClient(api_client).resources
    for manifest in manifests:
        resource = resources.get(api_version=manifest["apiVersion"], kind=manifest["kind"])
        resource.server_side_apply(body=manifest, namespace=manifest["metadata"].get("namespace"),
                                   field_manager=FIELD_MANAGER, force_conflicts=True)


def coredns() -> list[dict[str, Any]]:
    """CoreDNS as kubeadm installs it: its account and rights, its Corefile, a Deployment and the kube-dns Service."""
    labels = {"k8s-app": "kube-dns"}
    metadata = {"name": "coredns", "namespace": "kube-system"}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "system:coredns"},
         "rules": [{"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"],
                    "verbs": ["list", "watch"]},
                   {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "system:coredns"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:coredns"},
         "subjects": [{"kind": "ServiceAccount", **metadata}]},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"Corefile": COREFILE}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {**metadata, "labels": labels}, "spec": {
            "replicas": 1, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {
                "serviceAccountName": "coredns", "priorityClassName": "system-cluster-critical",
                "dnsPolicy": "Default",
                "containers": [{
                    "name": "coredns", "image": images.COREDNS_IMAGE, "imagePullPolicy": "Never",
                    "args": ["-conf", "/etc/coredns/Corefile"],
                    "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                              {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "50m", "memory": "70Mi"}, "limits": {"memory": "170Mi"}},
                    "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                        "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}},
                    "livenessProbe": {"httpGet": {"path": "/health", "port": 8080}, "periodSeconds": 10},
                    "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181}, "periodSeconds": 2},
                    "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns", "readOnly": True}],
                }],
                "volumes": [{"name": "config", "configMap": {"name": "coredns"}}],
            }}}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": labels},
         "spec": {"selector": labels, "clusterIP": layout.DNS_SERVICE_IP,
                  "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                            {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}},
    ]


def local_path_storage() -> list[dict[str, Any]]:
    """local-path-provisioner as its release installs it (its own deploy/local-path-storage.yaml), with the
    images built here, its volumes under .cluster/, and its StorageClass the cluster's default, so that a
    claim naming no class (a user's home, the hub's database) binds as on a managed cluster."""
    import yaml

    module = build.COMPONENTS / "local-path-provisioner"
    release = build.module_source(module, "github.com/rancher/local-path-provisioner") / "deploy"
    text = (release / "local-path-storage.yaml").read_text()
    text = text.replace("image: busybox", f"image: {images.VOLUME_HELPER_IMAGE}")
    text = text.replace("/opt/local-path-provisioner", str(layout.STATE / "volumes"))
    manifests = [each for each in yaml.safe_load_all(text) if each]
    for manifest in manifests:
        if manifest["kind"] == "Deployment":
            (container,) = manifest["spec"]["template"]["spec"]["containers"]
            container["image"] = images.LOCAL_PATH_IMAGE
        if manifest["kind"] == "StorageClass":
            manifest["metadata"]["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
    return manifests


# The test node has two cores: replicas that name no --cpu request a quarter of one, so that a four-replica job,
# an endpoint and the system pods fit on it together. Memory keeps the platform's default.
TEST_DEFAULT_CPU = "0.25"


def hubml_environment() -> dict[str, str]:
    """hubml's settings for this cluster: endpoints serve with `hubml serve` from the runtime image, which
    answers as tensorflow/serving does (same flags, REST paths and gRPC services), since no image is pulled;
    it binds every address in its pod, as tensorflow_model_server does (its own default is loopback)."""
    from hubml.backends.kubernetes.options import Kubernetes

    return {"HUBML_DEFAULT_CPU": TEST_DEFAULT_CPU, "HUBML_K8S_SERVING_IMAGE": Kubernetes().runtime_image,
            "HUBML_K8S_SERVING_COMMAND": json.dumps(["hubml", "serve", "--host=0.0.0.0"])}


def user_namespace(api_client: k8s.ApiClient, namespace: str, user: str, storage_keys: dict[str, str],
                   quota: dict[str, str] | None = None) -> None:
    """A user's namespace as the hub makes it before their notebook starts: hubml's tenancy objects and Secret."""
    from hubml.backends.kubernetes import tenancy
    from hubml.config import Settings
    from hubml.specs import Resources

    defaults = Settings.resolve({"namespace": namespace, "default_cpu": float(TEST_DEFAULT_CPU)}) \
        .default_resources(Resources())
    apply(api_client, [tenancy.namespace_object(namespace, user),
                       *tenancy.namespace_manifests(namespace, user, quota, defaults),
                       tenancy.storage_secret(namespace, user, storage_keys)])


def developer_namespace(api_client: k8s.ApiClient, environment: dict[str, str]) -> str:
    """`hubml-<login>`, where hubml run from a shell that sourced .cluster/env works."""
    import getpass

    user = getpass.getuser()
    keys = {key: environment[key] for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL")}
    user_namespace(api_client, f"hubml-{user}", user, keys)
    return f"hubml-{user}"
