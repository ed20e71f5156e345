"""The real `kubernetes` client, through `KubernetesBackend`, against a fake API server over HTTP.

The test plays the Job controller and the kubelet (k8s_controller.Controller):
it creates the pods, sets the Jobs' counts and conditions, writes log lines.
"""
from __future__ import annotations

import json
import os
import secrets

import pytest
from k8s_testing import NAMESPACE, wait_for

from hubml.backends.base import CANCELLED, FAILED, PENDING, RUNNING, SUCCEEDED
from hubml.exceptions import InvalidArgument, NotFound
from hubml.specs import DeploySpec, TrainSpec


def spec(**fields) -> TrainSpec:
    return TrainSpec(name="mnist", code="print('training')", **fields)


def state_of(backend, job_id):
    return backend.job(job_id).state


def test_submit_creates_the_record_the_service_and_one_job_per_role(backend, server):
    record = backend.submit(spec(chief=True, workers=2, ps=1))
    cluster = server.cluster
    assert record.state == PENDING and record.backend == "kubernetes"
    configmap = cluster.get("configmaps", NAMESPACE, record.id)
    for plural, name in (("services", record.id), ("jobs", f"{record.id}-chief"), ("jobs", f"{record.id}-worker"),
                         ("jobs", f"{record.id}-ps")):
        owners = cluster.get(plural, NAMESPACE, name)["metadata"]["ownerReferences"]
        assert owners[0]["uid"] == configmap["metadata"]["uid"]  # deleting the record deletes the job
    assert backend.job(record.id).spec["workers"] == 2
    assert [job.id for job in backend.jobs()] == [record.id]


def test_status_transitions_logs_and_success_decided_by_the_chief(backend, controller, server):
    record = backend.submit(spec(chief=True, workers=2, ps=1))
    chief = controller.start(f"{record.id}-chief")
    workers = controller.start(f"{record.id}-worker")
    controller.start(f"{record.id}-ps")
    wait_for(lambda: state_of(backend, record.id) == RUNNING, what="RUNNING")
    controller.log(chief[0], "epoch 1 loss 0.5")
    controller.log(workers[1], "worker one says hi")
    controller.log(chief[0], "epoch 2 loss 0.25")
    lines = list(backend.logs(record.id))
    assert [str(line) for line in lines] == ["[chief-0] epoch 1 loss 0.5", "[chief-0] epoch 2 loss 0.25",
                                             "[worker-1] worker one says hi"]
    assert lines[0].attempt == 1 and lines[0].cursor  # every line carries a JSON-able cursor

    controller.complete_index(f"{record.id}-chief", 0, chief[0])
    done = wait_for(lambda: backend.job(record.id).final and backend.job(record.id), what="a final state")
    assert (done.state, done.exit_code) == (SUCCEEDED, 0) and done.finished_at
    # As TFJob: with a chief deciding, the ps and the remaining workers are stopped (foreground deletion).
    wait_for(lambda: not server.cluster.list("jobs", NAMESPACE, f"hubml.io/job={record.id},hubml.io/role=ps")[0],
             what="the ps Job deleted")
    assert not server.cluster.list("jobs", NAMESPACE, f"hubml.io/job={record.id},hubml.io/role=worker")[0]
    deletes = [body for method, path, body in server.cluster.bodies if method == "DELETE"]
    assert deletes and all(body == {"propagationPolicy": "Foreground"} for body in deletes)
    # The outcome is written into the record, so it outlives the Jobs' TTL.
    wait_for(lambda: server.cluster.get("configmaps", NAMESPACE, record.id)["metadata"]["annotations"]
             .get("hubml.io/state") == SUCCEEDED, what="the record settled")
    server.cluster.delete("jobs", NAMESPACE, f"{record.id}-chief")  # the TTL controller removes it
    wait_for(lambda: backend._role_jobs.get(f"{record.id}-chief") is None, what="the chief Job gone")
    assert state_of(backend, record.id) == SUCCEEDED


def test_without_a_chief_worker_zero_decides_and_the_others_finish(backend, controller, server):
    record = backend.submit(spec(workers=3))
    pods = controller.start(f"{record.id}-worker")
    controller.complete_index(f"{record.id}-worker", 1, pods[1])
    wait_for(lambda: state_of(backend, record.id) == RUNNING, what="RUNNING")
    controller.complete_index(f"{record.id}-worker", 0, pods[0])
    wait_for(lambda: state_of(backend, record.id) == SUCCEEDED, what="SUCCEEDED")
    assert server.cluster.get("jobs", NAMESPACE, f"{record.id}-worker")  # workers 2.. are left to finish


def test_a_code_error_fails_the_job_with_its_exit_code(backend, controller):
    record = backend.submit(spec(workers=2))
    pods = controller.start(f"{record.id}-worker")
    controller.fail(f"{record.id}-worker", "PodFailurePolicy",
                    f"Container replica for pod {NAMESPACE}/{pods[1]} failed with exit code 1 matching FailJob "
                    "rule at index 1", pod=pods[1])
    failed = wait_for(lambda: backend.job(record.id).final and backend.job(record.id), what="FAILED")
    assert (failed.state, failed.exit_code) == (FAILED, 1)
    assert "exited with code 1" in failed.reason


def test_a_timeout_and_exhausted_retries_are_reported(backend, controller):
    timed = backend.submit(spec(timeout=30))
    controller.start(f"{timed.id}-worker")
    controller.fail(f"{timed.id}-worker", "DeadlineExceeded", "Job was active longer than specified deadline")
    wait_for(lambda: backend.job(timed.id).reason == "timed out after 30 s", what="timeout reason")
    retried = backend.submit(spec(retries=2))
    controller.fail(f"{retried.id}-worker", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
    failed = wait_for(lambda: backend.job(retried.id).final and backend.job(retried.id), what="FAILED")
    assert failed.reason == "worker replicas failed 3 times, the retries allowed"


def test_cancel_deletes_with_foreground_propagation_and_stays_cancelled(backend, controller, server):
    record = backend.submit(spec(workers=2, ps=1))
    controller.start(f"{record.id}-worker")
    controller.start(f"{record.id}-ps")
    assert len(server.cluster.list("pods", NAMESPACE, f"hubml.io/job={record.id}")[0]) == 3
    cancelled = backend.cancel(record.id)
    assert cancelled.state == CANCELLED and cancelled.reason == "cancelled by user"
    assert not server.cluster.list("jobs", NAMESPACE, f"hubml.io/job={record.id}")[0]
    assert not server.cluster.list("pods", NAMESPACE, f"hubml.io/job={record.id}")[0]  # pods went with them
    job_deletes = [(path, body) for method, path, body in server.cluster.bodies if method == "DELETE"]
    assert {path.rsplit("/", 1)[1] for path, _ in job_deletes} == {f"{record.id}-worker", f"{record.id}-ps", record.id}
    assert all(body == {"propagationPolicy": "Foreground"} for _, body in job_deletes)
    assert state_of(backend, record.id) == CANCELLED
    assert backend.cancel(record.id).state == CANCELLED  # cancelling again changes nothing


def test_another_client_sees_the_job_and_its_final_state(backend, make_backend, controller):
    record = backend.submit(spec())
    pods = controller.start(f"{record.id}-worker")
    controller.complete_index(f"{record.id}-worker", 0, pods[0])
    other = make_backend()  # a new kernel, or the CLI
    assert wait_for(lambda: state_of(other, record.id) == SUCCEEDED, what="SUCCEEDED elsewhere")
    with pytest.raises(NotFound):
        other.job("mnist-ffffff")


def test_a_job_asking_for_another_namespace_is_refused_before_anything_is_created(backend, server):
    asking = spec(env={"HUBML_NAMESPACE": "hubml-bob"})
    with pytest.raises(InvalidArgument, match="refuses to act in 'hubml-bob'"):
        backend.submit(asking)
    stray = spec()
    stray.namespace = "hubml-bob"  # a spec read from a file that names a namespace
    with pytest.raises(InvalidArgument, match="hubml-bob"):
        backend.submit(stray)
    assert server.cluster.count(method="POST") == 0


def test_a_backend_configured_for_another_namespace_is_refused(make_backend, settings):
    import dataclasses

    with pytest.raises(InvalidArgument, match="works in namespace 'hubml-alice'"):
        make_backend(settings=dataclasses.replace(settings, namespace="hubml-bob"), home_namespace=NAMESPACE)
    with pytest.raises(InvalidArgument, match="not a Kubernetes namespace"):
        make_backend(settings=dataclasses.replace(settings, namespace="Bob's"))


def test_only_the_users_own_jobs_are_listed(backend, make_backend, settings):
    import dataclasses

    mine = backend.submit(spec())
    bob = make_backend(settings=dataclasses.replace(settings, user="bob"))
    assert bob.jobs() == []
    with pytest.raises(NotFound):
        bob.job(mine.id)


def saved_model(settings, name: str, version: int) -> None:
    """A model folder in TF Serving's layout, as a job's export leaves it in storage."""
    from hubml import storage

    folder = storage.local_path(storage.join(settings.storage, "models", name, str(version)))
    os.makedirs(folder)
    open(os.path.join(folder, "saved_model.pb"), "wb").close()


def test_deploy_lists_and_undeploys_an_endpoint(backend, server, settings):
    saved_model(settings, "mnist", 3)
    endpoint = backend.deploy(DeploySpec(name="mnist-api", model="mnist", replicas=2))
    assert endpoint["state"] == "PENDING" and endpoint["model"] == "mnist" and endpoint["replicas"] == 2
    assert endpoint["rest_url"] == f"http://mnist-api.{NAMESPACE}.svc.cluster.local:8501"
    assert endpoint["grpc_target"] == f"mnist-api.{NAMESPACE}.svc.cluster.local:8500"
    fetch = server.cluster.get("deployments", NAMESPACE, "mnist-api")["spec"]["template"]["spec"]["initContainers"][0]
    assert fetch["command"][-2:] == [f"{settings.storage}/models/mnist", "/models/mnist"]
    with pytest.raises(InvalidArgument, match="already exists"):
        backend.deploy(DeploySpec(name="mnist-api", model="mnist"))
    server.cluster.patch("deployments", NAMESPACE, "mnist-api", {"status": {"readyReplicas": 2}})
    assert [each["state"] for each in backend.endpoints()] == ["READY"]
    assert backend.endpoint("mnist-api")["name"] == "mnist-api"
    backend.undeploy("mnist-api")
    assert not server.cluster.list("deployments", NAMESPACE)[0] and not server.cluster.list("services", NAMESPACE)[0]
    assert backend.endpoints() == []
    with pytest.raises(NotFound):
        backend.undeploy("mnist-api")
    with pytest.raises(InvalidArgument, match="outside storage"):
        backend._deploy(DeploySpec(name="other", model="file:///tmp/elsewhere/models/m").validate())


def test_storage_keys_never_reach_the_cluster(backend, server, settings, monkeypatch):
    marker = f"marker-{secrets.token_hex(8)}"
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, marker)
    backend.submit(spec(chief=True, workers=2, ps=1, image="registry.example.com/tf:2.21"))
    saved_model(settings, "mnist", 1)
    backend.deploy(DeploySpec(name="mnist-api", model="mnist"))
    sent = json.dumps(server.cluster.bodies)
    assert '"secretRef": {"name": "hubml-storage"' in sent
    assert marker not in sent


def test_quota_reads_the_namespaces_resource_quota(backend, server):
    server.cluster.create("resourcequotas", NAMESPACE, {
        "metadata": {"name": "hubml-quota"}, "spec": {"hard": {"requests.cpu": "4", "requests.memory": "16Gi"}},
        "status": {"hard": {"requests.cpu": "4", "requests.memory": "16Gi"},
                   "used": {"requests.cpu": "1500m", "requests.memory": "2Gi"}}})
    rows = {row["resource"]: (row["used"], row["limit"]) for row in backend.quota()}
    assert rows == {"requests.cpu": (1.5, 4.0), "requests.memory": (2 * 2**30, 16 * 2**30)}


def test_a_job_larger_than_the_namespace_quota_is_refused_at_submit(backend, server):
    from hubml.specs import Resources

    server.cluster.create("resourcequotas", NAMESPACE, {
        "metadata": {"name": "hubml-quota"}, "spec": {"hard": {"requests.cpu": "4", "pods": "5"}},
        "status": {"hard": {"requests.cpu": "4", "pods": "5"}, "used": {"requests.cpu": "0", "pods": "0"}}})
    with pytest.raises(InvalidArgument, match=r"--cpu: the job asks for 6 cpu in all, more than .* requests.cpu of 4"):
        backend.submit(spec(workers=3, resources=Resources(cpu=2)))
    with pytest.raises(InvalidArgument, match="--workers: the job asks for 6 pods"):
        backend.submit(spec(workers=6))
    assert server.cluster.count(method="POST") == 0
    assert backend.submit(spec(workers=2, resources=Resources(cpu=2))).state == PENDING


def test_missing_rights_are_reported_at_once_with_the_servers_words(backend, server):
    from hubml.exceptions import BackendError

    server.cluster.forbidden.add(("GET", "configmaps"))
    with pytest.raises(BackendError, match="403 configmaps is forbidden"):
        backend.jobs()


def test_a_submission_the_cluster_refuses_halfway_leaves_nothing_behind(backend, server):
    from hubml.exceptions import BackendError

    backend.jobs()
    server.cluster.forbidden.add(("POST", "jobs"))
    with pytest.raises(BackendError, match="create_namespaced_job .* 403"):
        backend.submit(spec(workers=2, ps=1))
    assert not server.cluster.list("configmaps", NAMESPACE)[0]
    assert not server.cluster.list("services", NAMESPACE)[0]  # owned by the record: deleted with it
    wait_for(lambda: backend.jobs() == [], what="the record gone from the cache")
