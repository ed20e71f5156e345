"""Two users on one machine cannot list, read, cancel or undeploy each other's jobs, models, endpoints
or storage.

The setup is the local hub's, without the hub process itself: each user's home
is prepared by `hub_config.local_home` (private HUBML_HOME, 0700) and each runs
their own single-user Jupyter server with the hubml server extension and their
own token, as the hub's SimpleLocalProcessSpawner starts them (see
tests/hub/test_hub_local.py for the hub itself). Kubernetes: the notebook's
rights, asserted on the generated RBAC and the rendered chart.
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys

import pytest
from security_helpers import FIXTURES

from hubml.client import Client
from hubml.exceptions import InvalidArgument
from wait_helpers import wait_for

SLEEPER = "import time\nprint('working', flush=True)\ntime.sleep(300)\n"
HALF_PLUS_TWO = FIXTURES / "tf_serving_testdata" / "saved_model_half_plus_two_cpu" / "00000123"
NOBODY = 65534


def client_of(user) -> Client:
    """The user's own client, as their kernel builds it from the server's environment."""
    return Client(backend="local", home=user.environment["HUBML_HOME"], user=user.name, storage="")


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_each_users_hubml_home_is_private(user_servers, tmp_path):
    for user in user_servers.values():
        assert user.api("GET", "jobs").status_code == 200  # the server works in that home
        assert mode(user.environment["HUBML_HOME"]) == 0o700
        assert mode(user.home) == 0o700
    fresh = tmp_path / "fresh-home"
    Client(backend="local", home=str(fresh))
    assert mode(fresh) == 0o700, "a HUBML_HOME hubml creates itself is private too"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another system user")
def test_another_system_user_cannot_enter_a_users_hubml_home(user_servers):
    """With PAM logins each user's server runs as their own uid; 0700 keeps the others out."""
    home = user_servers["alice"].environment["HUBML_HOME"]
    client_of(user_servers["alice"])  # the database exists
    probe = ("import os, sys\nos.setgid(%d); os.setuid(%d)\n"
             "try:\n    os.listdir(sys.argv[1])\nexcept PermissionError:\n    sys.exit(13)\n") % (NOBODY, NOBODY)
    refused = subprocess.run([sys.executable, "-c", probe, home], capture_output=True, text=True, timeout=30)
    assert refused.returncode == 13, refused.stderr


@pytest.fixture(scope="module")
def alices_work(user_servers):
    """A running job, a model in her storage and an endpoint (left starting), all alice's."""
    alice = client_of(user_servers["alice"])
    job = alice.train(SLEEPER, name="secret-work")
    wait_for(lambda: job.state == "RUNNING", 60, "alice's job running")  # the tests check it stays so
    model = os.path.join(alice.settings.storage[len("file://"):], "models", "private-model")
    shutil.copytree(HALF_PLUS_TWO, os.path.join(model, "1"))
    endpoint = alice.deploy("private-model", name="private-ep", wait=False)
    yield {"job": job.id, "endpoint": endpoint.name, "model": "private-model"}
    for leftover in alice.endpoints():
        alice.undeploy(leftover.name)
    for each in alice.jobs():
        each.cancel()


def test_bobs_server_neither_lists_nor_reads_alices_work(user_servers, alices_work):
    bob = user_servers["bob"]
    assert bob.api("GET", "jobs").json() == {"jobs": []}
    assert bob.api("GET", "endpoints").json() == {"endpoints": []}
    assert bob.api("GET", "sweeps").json() == {"sweeps": []}
    for path in (f"jobs/{alices_work['job']}", f"jobs/{alices_work['job']}/logs"):
        answer = bob.api("GET", path)
        assert answer.status_code == 404 and "no job named" in answer.json()["message"], answer.text
    predict = bob.api("POST", f"endpoints/{alices_work['endpoint']}/predict", json={"instances": [1.0]})
    assert predict.status_code == 404, predict.text


def test_bobs_server_can_neither_cancel_nor_undeploy_alices_work(user_servers, alices_work):
    bob, alice = user_servers["bob"], user_servers["alice"]
    assert bob.api("POST", f"jobs/{alices_work['job']}/cancel").status_code == 404
    assert bob.api("DELETE", f"jobs/{alices_work['job']}").status_code == 404
    assert bob.api("DELETE", f"endpoints/{alices_work['endpoint']}").status_code == 404
    assert alice.api("GET", f"jobs/{alices_work['job']}").json()["state"] == "RUNNING"
    assert [each["name"] for each in alice.api("GET", "endpoints").json()["endpoints"]] == [alices_work["endpoint"]]


def test_bobs_token_and_no_token_are_refused_by_alices_server(user_servers, alices_work):
    bob, alice = user_servers["bob"], user_servers["alice"]
    for path in ("jobs", f"jobs/{alices_work['job']}/logs", "endpoints"):
        assert alice.api("GET", path, token=bob.token).status_code == 403
    assert alice.api("POST", f"jobs/{alices_work['job']}/cancel", token=bob.token).status_code == 403
    assert alice.api("DELETE", f"endpoints/{alices_work['endpoint']}", token=bob.token).status_code == 403
    anonymous = __import__("requests").get(f"{alice.url}/hubml/api/jobs", timeout=30)
    assert anonymous.status_code == 403
    assert alice.api("GET", f"jobs/{alices_work['job']}").json()["state"] == "RUNNING"


def test_bobs_client_sees_none_of_alices_models_or_storage(user_servers, alices_work):
    bob = client_of(user_servers["bob"])
    assert bob.settings.storage != client_of(user_servers["alice"]).settings.storage
    with pytest.raises(InvalidArgument, match="is not a model"):
        bob.backend.resolve_model(alices_work["model"], None)
    assert bob.jobs() == [] and bob.endpoints() == []
    listing = subprocess.run([sys.executable, "-c", "import sys; from hubml.cli import main; sys.exit(main())",
                              "models", "list"], capture_output=True, text=True, timeout=60,
                             env={**os.environ, **user_servers["bob"].environment})
    assert listing.returncode == 0 and alices_work["model"] not in listing.stdout, listing.stdout


def test_alice_herself_can_cancel_and_undeploy_through_her_server(user_servers, alices_work):
    """On work of its own: the module's, which the tests above check is untouched by bob, stays running
    whatever order the tests run in."""
    alice, own = user_servers["alice"], client_of(user_servers["alice"])
    job = own.train(SLEEPER, name="her-own-work")
    endpoint = own.deploy(alices_work["model"], name="her-own-ep", wait=False)
    assert alice.api("POST", f"jobs/{job.id}/cancel").json()["state"] == "CANCELLED"
    assert alice.api("DELETE", f"endpoints/{endpoint.name}").json() == {"name": endpoint.name, "undeployed": True}
    assert alice.api("GET", f"jobs/{alices_work['job']}").json()["state"] == "RUNNING"


# --- Kubernetes: a notebook's rights end at its namespace ------------------------------------------

CLUSTER_SCOPED = {"namespaces", "nodes", "persistentvolumes", "clusterroles", "clusterrolebindings",
                  "customresourcedefinitions", "storageclasses", "priorityclasses"}
DANGEROUS_VERBS = {"escalate", "bind", "impersonate", "*"}


def test_a_notebooks_rbac_is_a_role_in_its_own_namespace_with_no_cluster_rights():
    """What both the hub's pre-spawn hook and `hubml` write in a user's namespace (one module)."""
    from hubml.backends.kubernetes.tenancy import JOB_ACCOUNT, NOTEBOOK_ACCOUNT, namespace_manifests

    objects = namespace_manifests("hubml-alice", "alice")
    assert not {each["kind"] for each in objects} & {"ClusterRole", "ClusterRoleBinding", "Namespace"}
    assert {each["metadata"]["namespace"] for each in objects} == {"hubml-alice"}
    (role,) = [each for each in objects if each["kind"] == "Role"]
    (binding,) = [each for each in objects if each["kind"] == "RoleBinding"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": NOTEBOOK_ACCOUNT, "namespace": "hubml-alice"}]
    for rule in role["rules"]:
        assert "*" not in rule["apiGroups"] + rule["resources"], rule
        assert not set(rule["verbs"]) & DANGEROUS_VERBS, rule
        assert not set(rule["resources"]) & CLUSTER_SCOPED, rule
        assert "rbac.authorization.k8s.io" not in rule["apiGroups"], "a notebook cannot grant itself more"
        if "secrets" in rule["resources"]:
            assert set(rule["verbs"]) <= {"get", "list", "watch"}, "secrets are read-only"
    (job_account,) = [each for each in objects
                      if each["kind"] == "ServiceAccount" and each["metadata"]["name"] == JOB_ACCOUNT]
    assert job_account["automountServiceAccountToken"] is False
    assert all(subject["name"] != JOB_ACCOUNT for subject in binding["subjects"]), "job pods get no API rights"


def test_the_chart_gives_cluster_rights_to_the_hub_alone():
    import helm_python as helm
    import yaml

    from security_helpers import REPO

    with helm.Chart.load(REPO / "helm" / "hubml") as chart:
        rendered = chart.render(None, name="hubml", namespace="hubml-system", is_install=True)
    objects = [document for name, text in rendered.items() if name.endswith(".yaml")
               for document in yaml.safe_load_all(text) if document]
    cluster_bindings = [each for each in objects if each["kind"] == "ClusterRoleBinding"]
    assert cluster_bindings, "the hub needs a ClusterRoleBinding to make user namespaces"
    for binding in cluster_bindings:
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "hub", "namespace": "hubml-system"}]
    for binding in objects:
        if binding["kind"] in ("RoleBinding", "ClusterRoleBinding"):
            assert all(subject["name"] not in ("hubml-notebook", "hubml-job") for subject in binding["subjects"])
