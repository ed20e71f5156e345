"""Two users' namespaces, as the hub makes them, asked of the real API server: what each notebook's service
account may do (SubjectAccessReview, the check `kubectl auth can-i --as` makes), which pods admission refuses
(Pod Security), and which NetworkPolicies each namespace holds."""
from __future__ import annotations

import json

import pytest
from k8s_testing import POD_SECONDS, api, wait_for
from kubernetes import client as k8s

import cluster_testing
from hubml.backends.kubernetes import tenancy

# What hubml does from a notebook, in its own namespace (hubml/backends/kubernetes/).
NEEDED = [("create", "batch", "jobs"), ("delete", "batch", "jobs"), ("watch", "batch", "jobs"),
          ("create", "batch", "cronjobs"), ("create", "apps", "deployments"), ("patch", "apps", "deployments"),
          ("create", "", "services"), ("create", "", "configmaps"), ("update", "", "configmaps"),
          ("list", "", "pods"), ("watch", "", "pods"), ("get", "", "pods/log"), ("get", "", "secrets"),
          ("list", "", "resourcequotas"), ("list", "", "limitranges"), ("watch", "", "events")]
# What would let a notebook leave its namespace, take the node, or loosen its own limits.
REFUSED_AT_HOME = [("create", "", "pods"), ("create", "", "pods/exec"), ("create", "", "secrets"),
                   ("update", "", "secrets"), ("delete", "", "secrets"), ("create", "", "serviceaccounts/token"),
                   ("create", "rbac.authorization.k8s.io", "roles"), ("escalate", "rbac.authorization.k8s.io", "roles"),
                   ("bind", "rbac.authorization.k8s.io", "roles"), ("update", "rbac.authorization.k8s.io", "rolebindings"),
                   ("delete", "networking.k8s.io", "networkpolicies"), ("update", "", "resourcequotas"),
                   ("delete", "", "limitranges"), ("update", "", "namespaces"), ("impersonate", "", "serviceaccounts")]
CLUSTER_WIDE = [("list", "", "namespaces"), ("list", "", "nodes"), ("list", "", "pods"), ("list", "", "secrets"),
                ("create", "rbac.authorization.k8s.io", "clusterrolebindings"), ("create", "", "persistentvolumes"),
                ("create", "", "namespaces")]


def can(admin: k8s.ApiClient, account: str, namespace: str, verb: str, group: str, resource: str,
        where: str | None) -> bool:
    """The API server's own answer to `kubectl auth can-i VERB RESOURCE --as system:serviceaccount:...`."""
    resource, _, subresource = resource.partition("/")
    review = k8s.V1SubjectAccessReview(spec=k8s.V1SubjectAccessReviewSpec(
        user=f"system:serviceaccount:{namespace}:{account}",
        groups=["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
        resource_attributes=k8s.V1ResourceAttributes(verb=verb, group=group, resource=resource,
                                                     subresource=subresource or None, namespace=where)))
    return k8s.AuthorizationV1Api(admin).create_subject_access_review(review).status.allowed


@pytest.fixture(scope="module")
def two_users(kube_cluster, kube_admin, tmp_path_factory):
    folder = tmp_path_factory.mktemp("namespaces")
    made = [cluster_testing.make_user_namespace(kube_cluster, kube_admin, cluster_testing.namespace_name(name),
                                                name, folder) for name in ("ada", "bo")]
    yield made
    for namespace in made:
        namespace.api_client.close()
        cluster_testing.delete_namespace(kube_admin, namespace.name)


def test_a_notebook_may_do_what_hubml_needs_in_its_own_namespace(kube_admin, two_users):
    ada = two_users[0].name
    missing = [check for check in NEEDED if not can(kube_admin, tenancy.NOTEBOOK_ACCOUNT, ada, *check, where=ada)]
    assert missing == []


def test_a_notebook_may_not_start_pods_write_secrets_or_change_its_own_rights(kube_admin, two_users):
    ada = two_users[0].name
    allowed = [check for check in REFUSED_AT_HOME if can(kube_admin, tenancy.NOTEBOOK_ACCOUNT, ada, *check, where=ada)]
    assert allowed == []


def test_a_notebook_may_do_nothing_in_another_users_namespace_or_cluster_wide(kube_admin, two_users):
    ada, bo = (namespace.name for namespace in two_users)
    elsewhere = [check for check in NEEDED + REFUSED_AT_HOME
                 if can(kube_admin, tenancy.NOTEBOOK_ACCOUNT, ada, *check, where=bo)]
    cluster_wide = [check for check in NEEDED + CLUSTER_WIDE
                    if can(kube_admin, tenancy.NOTEBOOK_ACCOUNT, ada, *check, where=None)]
    assert elsewhere == [] and cluster_wide == []


def test_the_job_account_has_no_rights_and_its_pods_no_token(kube_admin, kube_env):
    from hubml.client import Client

    home = kube_env.name
    granted = [check for check in NEEDED if can(kube_admin, tenancy.JOB_ACCOUNT, home, *check, where=home)]
    assert granted == []
    job = Client().train("print('no token here')", name="token-check")
    job.wait(timeout=POD_SECONDS)
    (pod, *_) = api(kube_admin, "pods")(home, label_selector=f"hubml.io/job={job.id}")
    assert pod["spec"]["serviceAccountName"] == tenancy.JOB_ACCOUNT
    mounts = [mount["mountPath"] for container in pod["spec"]["containers"] + pod["spec"].get("initContainers", [])
              for mount in container.get("volumeMounts", [])]
    assert not any("serviceaccount" in path for path in mounts), mounts


PRIVILEGED = {"containers": [{"name": "x", "image": "ghcr.io/hubml/runtime:0.1.0",
                              "securityContext": {"privileged": True}}]}
HOST_PATH = {"containers": [{"name": "x", "image": "ghcr.io/hubml/runtime:0.1.0",
                             "volumeMounts": [{"name": "root", "mountPath": "/host"}]}],
             "volumes": [{"name": "root", "hostPath": {"path": "/"}}]}
HOST_NETWORK = {"hostNetwork": True, "containers": [{"name": "x", "image": "ghcr.io/hubml/runtime:0.1.0"}]}


@pytest.mark.parametrize("spec", [PRIVILEGED, HOST_PATH, HOST_NETWORK], ids=["privileged", "hostPath", "hostNetwork"])
def test_pod_security_admission_refuses_node_taking_pods_in_a_user_namespace(kube_admin, two_users, spec):
    """Even the cluster's administrator: Pod Security admission judges the pod, not who sends it."""
    ada = two_users[0].name
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "takeover"}, "spec": spec}
    with pytest.raises(k8s.ApiException) as refused:
        k8s.CoreV1Api(kube_admin).create_namespaced_pod(ada, pod, dry_run="All")
    assert refused.value.status == 403
    assert 'violates PodSecurity "baseline:latest"' in json.loads(refused.value.body)["message"]


def test_a_privileged_pod_template_in_a_job_the_notebook_creates_never_runs(kube_admin, two_users):
    """The way a notebook could try: a Job is its to create, but its pods meet the same admission."""
    ada = two_users[0]
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "takeover"},
           "spec": {"backoffLimit": 0, "template": {"spec": {**PRIVILEGED, "restartPolicy": "Never",
                                                             "serviceAccountName": tenancy.JOB_ACCOUNT}}}}
    k8s.BatchV1Api(ada.api_client).create_namespaced_job(ada.name, job)

    def refusal() -> str | None:
        events = api(kube_admin, "events")(ada.name, field_selector="involvedObject.name=takeover")
        return next((event["message"] for event in events if event["reason"] == "FailedCreate"), None)

    assert "violates PodSecurity" in wait_for(refusal, 60, "the Job controller's FailedCreate event")
    assert api(kube_admin, "pods")(ada.name, label_selector="job-name=takeover") == []


def test_each_user_namespace_accepts_connections_from_its_own_pods_alone(kube_admin, two_users):
    ada = two_users[0].name
    namespace = k8s.CoreV1Api(kube_admin).read_namespace(ada)
    assert namespace.metadata.labels["pod-security.kubernetes.io/enforce"] == "baseline"
    policies = k8s.NetworkingV1Api(kube_admin).list_namespaced_network_policy(ada).items
    (policy,) = [each for each in policies if each.metadata.name == tenancy.SAME_NAMESPACE_POLICY]
    assert policy.spec.pod_selector.match_labels is None and policy.spec.policy_types == ["Ingress"]
    (rule,) = policy.spec.ingress
    assert [(peer.pod_selector.match_labels, peer.namespace_selector) for peer in rule._from] == [(None, None)]
