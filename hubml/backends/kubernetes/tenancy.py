"""One namespace per user: what it holds, and the guard that keeps hubml inside it.

For each user namespace an administrator (or the hub, before the notebook
starts) applies `namespace_manifests(...)`:

- ServiceAccount `hubml-notebook`, which the notebook pod runs as, with a Role
  and RoleBinding of the same name granting jobs, services, deployments and
  configmaps in that namespace only, and pods, their logs and secrets read-only:
  a notebook starts pods only through Jobs and Deployments, whose pods run as
  `hubml-job`, so it cannot start a pod as an account with more rights. Nothing
  here is cluster-wide: no ClusterRole, no ClusterRoleBinding; and no rights on
  RBAC objects, so it cannot grant itself more.
- ServiceAccount `hubml-job`, which job and endpoint pods run as; it is bound
  to nothing and its token is not mounted.
- ResourceQuota `hubml-quota`, the profile's budget, which bounds the
  notebook and every job and endpoint started from it.
- NetworkPolicies: every pod accepts connections from pods of its own
  namespace alone (`hubml-same-namespace`), and the notebook also from the
  hub and its proxy (`hubml-from-hub`), which route the user to it. Another
  user's pods reach neither the endpoints nor the training ports (2222), whose
  TensorFlow servers run whatever graph they are sent. A policy is enforced
  only by a CNI that implements NetworkPolicy (docs/kubernetes.md).
- LimitRange `hubml-defaults`, which gives every container that names no
  CPU or memory the default request (`c.HubML.default_cpu`, `default_memory`,
  the same default the local backend queues by) and the default memory as its
  limit. Without it, the quota's admission refuses any pod that names none:
  a default `%%train`, a default `%deploy`, and every init container.

The quota tracks CPU requests but not CPU limits: a default replica requests
CPU and may burst beyond it, as on the local backend, while memory, which
cannot be taken back, is requested and limited alike.

    python -m hubml.backends.kubernetes.tenancy hubml-alice --user alice \
        --profiles spawner_profiles/profiles.yaml --profile cpu-small | kubectl apply -f -
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from hubml.backends.kubernetes.manifests import USER_LABEL, container_resources, label_value
from hubml.config import Settings
from hubml.exceptions import InvalidArgument
from hubml.specs import Resources

NOTEBOOK_ACCOUNT, JOB_ACCOUNT, QUOTA_NAME = "hubml-notebook", "hubml-job", "hubml-quota"
LIMIT_RANGE_NAME, STORAGE_SECRET = "hubml-defaults", "hubml-storage"
# Pod Security admission refuses privileged, hostPath, hostNetwork and other node-taking pods here.
POD_SECURITY = {"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/warn": "baseline"}
SAME_NAMESPACE_POLICY, FROM_HUB_POLICY = "hubml-same-namespace", "hubml-from-hub"
# KubeSpawner's label on notebook pods, and the chart's on the hub's and the proxy's.
NOTEBOOK_POD_SELECTOR = {"component": "singleuser-server"}
HUB_COMPONENTS = {"key": "app.kubernetes.io/component", "operator": "In", "values": ["hub", "proxy"]}
NAMESPACE_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
EVERY_VERB = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
READ_VERBS = ["get", "list", "watch"]
NOTEBOOK_RULES: list[dict[str, Any]] = [
    {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": EVERY_VERB},
    {"apiGroups": [""], "resources": ["services", "configmaps"], "verbs": EVERY_VERB},
    {"apiGroups": [""], "resources": ["pods"], "verbs": READ_VERBS},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": EVERY_VERB},
    {"apiGroups": [""], "resources": ["secrets", "resourcequotas", "limitranges", "events"], "verbs": READ_VERBS},
]
# A budget for namespaces whose profile names none.
DEFAULT_QUOTA = {"requests.cpu": "8", "requests.memory": "32Gi", "limits.memory": "64Gi",
                 "requests.nvidia.com/gpu": "0", "pods": "50", "count/jobs.batch": "200",
                 "count/deployments.apps": "10", "services": "220", "configmaps": "1000"}


def namespace_manifests(namespace: str, user: str, quota: dict[str, str] | None = None,
                        defaults: Resources | None = None, hub_namespace: str | None = None) -> list[dict[str, Any]]:
    """ServiceAccounts, Role, RoleBinding, NetworkPolicies, ResourceQuota and LimitRange for one user's namespace,
    in apply order.

    `defaults` is what a container naming no CPU or memory requests: by default the settings' (`c.HubML`).
    `hub_namespace` is where the hub and its proxy run, which may reach the notebook; None: nothing outside may.
    """
    check_namespace_name(namespace)
    if defaults is None:
        defaults = Settings.resolve({"namespace": namespace}).default_resources(Resources())
    labels = {USER_LABEL: label_value(user)}

    def metadata(name: str) -> dict[str, Any]:
        return {"name": name, "namespace": namespace, "labels": dict(labels)}

    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata(NOTEBOOK_ACCOUNT)},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata(JOB_ACCOUNT),
         "automountServiceAccountToken": False},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": metadata(NOTEBOOK_ACCOUNT),
         "rules": [dict(rule) for rule in NOTEBOOK_RULES]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": metadata(NOTEBOOK_ACCOUNT),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NOTEBOOK_ACCOUNT},
         "subjects": [{"kind": "ServiceAccount", "name": NOTEBOOK_ACCOUNT, "namespace": namespace}]},
        *network_policies(metadata, hub_namespace),
        {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": metadata(QUOTA_NAME),
         "spec": {"hard": {key: str(value) for key, value in (quota or DEFAULT_QUOTA).items()}}},
        limit_range(metadata(LIMIT_RANGE_NAME), defaults),
    ]


def namespace_object(namespace: str, user: str) -> dict[str, Any]:
    """The user's Namespace, labelled with its user and the Pod Security level its admission enforces."""
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": check_namespace_name(namespace),
                         "labels": {USER_LABEL: label_value(user), **POD_SECURITY}}}


def network_policies(metadata: Any, hub_namespace: str | None) -> list[dict[str, Any]]:
    """Ingress from this namespace's own pods; and to the notebook, from the hub's and the proxy's pods."""
    def policy(name: str, pods: dict[str, Any], peers: list[dict[str, Any]]) -> dict[str, Any]:
        return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": metadata(name),
                "spec": {"podSelector": pods, "policyTypes": ["Ingress"], "ingress": [{"from": peers}]}}

    policies = [policy(SAME_NAMESPACE_POLICY, {}, [{"podSelector": {}}])]
    if hub_namespace:
        hub_pods = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": hub_namespace}},
                    "podSelector": {"matchExpressions": [dict(HUB_COMPONENTS)]}}
        policies.append(policy(FROM_HUB_POLICY, {"matchLabels": dict(NOTEBOOK_POD_SELECTOR)}, [hub_pods]))
    return policies


def limit_range(metadata: dict[str, Any], defaults: Resources) -> dict[str, Any]:
    requests = container_resources(defaults).get("requests", {})
    limit = {"default": {"memory": requests["memory"]}} if "memory" in requests else {}
    return {"apiVersion": "v1", "kind": "LimitRange", "metadata": metadata,
            "spec": {"limits": [{"type": "Container", "defaultRequest": requests, **limit}]}}


def storage_secret(namespace: str, user: str, keys: dict[str, str]) -> dict[str, Any]:
    """The namespace's storage credentials (AWS_ACCESS_KEY_ID, ...), which every job and endpoint pod reads."""
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": STORAGE_SECRET, "namespace": check_namespace_name(namespace),
                         "labels": {USER_LABEL: label_value(user)}},
            "stringData": dict(keys)}


def check_namespace_name(namespace: str) -> str:
    if not isinstance(namespace, str) or not NAMESPACE_PATTERN.match(namespace) or len(namespace) > 63:
        raise InvalidArgument("namespace", f"{namespace!r} is not a Kubernetes namespace name")
    return namespace


def check_within(requested: str | None, own: str) -> None:
    """The namespace guard: hubml acts in the notebook's own namespace and nowhere else."""
    if requested is not None and requested != own:
        raise InvalidArgument("namespace", f"this notebook works in namespace {own!r}; hubml refuses to act in "
                              f"{requested!r}")


def profile_quota(profiles_file: str, slug: str) -> dict[str, str]:
    """The `quota` of one profile in a KubeSpawner `profile_list` file (spawner_profiles/profiles.yaml)."""
    import yaml

    with open(profiles_file) as handle:
        profiles = yaml.safe_load(handle)
    for profile in profiles:
        if profile.get("slug") == slug:
            return {key: str(value) for key, value in (profile.get("quota") or DEFAULT_QUOTA).items()}
    raise InvalidArgument("--profile", f"no profile {slug!r} in {profiles_file}; there are "
                          f"{', '.join(str(p.get('slug')) for p in profiles)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hubml.backends.kubernetes.tenancy",
                                     description="Print one user namespace's RBAC and quota as a kubectl List.")
    parser.add_argument("namespace")
    parser.add_argument("--user", required=True)
    parser.add_argument("--profiles", help="a profile_list YAML file (spawner_profiles/profiles.yaml)")
    parser.add_argument("--profile", help="the slug of the profile whose quota to apply")
    parser.add_argument("--hub-namespace", help="where the hub and its proxy run, which may reach the notebook")
    args = parser.parse_args(argv)
    quota = profile_quota(args.profiles, args.profile) if args.profiles and args.profile else None
    items = namespace_manifests(args.namespace, args.user, quota, hub_namespace=args.hub_namespace)
    json.dump({"apiVersion": "v1", "kind": "List", "items": items}, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
