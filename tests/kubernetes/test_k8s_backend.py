"""`KubernetesBackend` on the real cluster: real Jobs, pods, controllers, RBAC and admission.

Each test runs in a namespace of its own as that namespace's notebook service
account; what the cluster holds is checked as its administrator (`kube_admin`).
"""
from __future__ import annotations

import json

import pytest
from k8s_testing import POD_SECONDS, api, left_of, pods_of, wait_for
from kubernetes import client as k8s

from hubml.backends.base import CANCELLED, FAILED, RUNNING, SUCCEEDED
from hubml.exceptions import BackendError, InvalidArgument, NotFound
from hubml.specs import Resources, TrainSpec

# Each replica says who it is; the ps never ends by itself (as a TF parameter server).
REPLICA = """import json, os, time
task = json.loads(os.environ.get("TF_CONFIG") or '{"task": {"type": "worker", "index": 0}}')["task"]
print(f"I am {task['type']} {task['index']}", flush=True)
if task["type"] == "ps":
    time.sleep(600)
"""


def spec(code: str = "print('training')", **fields) -> TrainSpec:
    return TrainSpec(name="mnist", code=code, **fields)


def final(backend, job_id: str, timeout: float = POD_SECONDS):
    return wait_for(lambda: backend.job(job_id).final and backend.job(job_id), timeout, f"{job_id} final")


def test_a_chief_ps_worker_job_runs_as_pods_and_the_chief_decides(backend, kube_admin, kube_env):
    record = backend.submit(spec(REPLICA, chief=True, workers=2, ps=1))
    assert record.backend == "kubernetes"
    namespace = kube_env.name
    record_map = k8s.CoreV1Api(kube_admin).read_namespaced_config_map(record.id, namespace)
    for kind, name in (("services", record.id), ("jobs", f"{record.id}-chief"), ("jobs", f"{record.id}-worker"),
                       ("jobs", f"{record.id}-ps")):
        owners = next(item for item in api(kube_admin, kind)(namespace) if item["metadata"]["name"] == name)[
            "metadata"]["ownerReferences"]
        assert owners[0]["uid"] == record_map.metadata.uid  # deleting the record deletes the job
    done = final(backend, record.id)
    assert (done.state, done.exit_code, done.attempt) == (SUCCEEDED, 0, 1) and done.finished_at
    lines = [str(line) for line in backend.logs(record.id)]
    for replica in ("chief-0", "worker-0", "worker-1", "ps-0"):
        role, index = replica.split("-")
        assert f"[{replica}] I am {role} {index}" in lines
    # As TFJob: once the chief decided, the ps stops by itself, with success, and keeps its pod and log.
    wait_for(lambda: any(str(line).startswith("[ps-0] [hubml] the job is decided") for line in backend.logs(record.id)),
             what="the ps stopping by itself")
    wait_for(lambda: all(pod["status"]["phase"] == "Succeeded" for pod in pods_of(kube_admin, namespace, record.id)),
             what="every pod Succeeded")
    wait_for(lambda: (k8s.CoreV1Api(kube_admin).read_namespaced_config_map(record.id, namespace).metadata.annotations
                      or {}).get("hubml.io/state") == SUCCEEDED, what="the outcome written into the record")


def test_without_a_chief_worker_zero_decides_and_the_others_finish_by_themselves(backend, kube_admin, kube_env):
    code = REPLICA + "if task['index'] == 1:\n    time.sleep(15)\n    print('worker 1 finished', flush=True)\n"
    record = backend.submit(spec(code, workers=2))
    done = final(backend, record.id)
    assert done.state == SUCCEEDED
    worker_job = k8s.BatchV1Api(kube_admin).read_namespaced_job(f"{record.id}-worker", kube_env.name)
    assert worker_job.status.completed_indexes in ("0", "0-1")  # decided by worker 0 alone
    wait_for(lambda: "[worker-1] worker 1 finished" in [str(line) for line in backend.logs(record.id)],
             timeout=POD_SECONDS, what="worker 1 left to finish")


def test_a_code_error_fails_the_job_at_once_keeping_its_logs(backend):
    code = REPLICA + "if task['index'] == 1:\n    raise ValueError('bad data in shard 1')\ntime.sleep(120)\n"
    record = backend.submit(spec(code, workers=2, retries=3))
    failed = final(backend, record.id)
    assert (failed.state, failed.exit_code, failed.attempt) == (FAILED, 1, 1), failed.reason
    assert failed.reason == "worker-1 exited with code 1"
    lines = [str(line) for line in backend.logs(record.id)]
    assert "[worker-1] ValueError: bad data in shard 1" in lines


def test_a_timeout_fails_the_job_with_its_deadline(backend):
    record = backend.submit(spec("import time\ntime.sleep(600)", timeout=5))
    failed = final(backend, record.id)
    assert (failed.state, failed.reason) == (FAILED, "timed out after 5 s")


def test_a_replica_killed_every_attempt_uses_up_the_retries(backend):
    code = "import os, signal\nprint('attempt', os.environ['HUBML_ATTEMPT'], flush=True)\nos.kill(os.getpid(), signal.SIGKILL)"
    record = backend.submit(spec(code, retries=1))
    failed = final(backend, record.id, timeout=2 * POD_SECONDS)
    assert failed.state == FAILED and failed.reason == "worker replicas failed 2 times, the retries allowed"
    assert [line.text for line in backend.logs(record.id) if line.text.startswith("attempt")] == \
        ["attempt 1", "attempt 2"]
    assert [line.attempt for line in backend.logs(record.id) if line.text.startswith("attempt")] == [1, 2]


def test_cancel_stops_every_replica_and_leaves_nothing_running(backend, kube_admin, kube_env):
    record = backend.submit(spec(REPLICA + "time.sleep(600)\n", workers=2, ps=1))
    wait_for(lambda: backend.job(record.id).state == RUNNING, POD_SECONDS, "RUNNING")
    cancelled = backend.cancel(record.id)
    assert (cancelled.state, cancelled.reason) == (CANCELLED, "cancelled by user")
    # Checked once the real garbage collector and kubelet are done: pods first, then the Jobs.
    wait_for(lambda: left_of(kube_admin, kube_env.name, f"hubml.io/job={record.id}") == {"configmaps": [record.id]},
             timeout=POD_SECONDS, what="nothing but the record left")
    assert backend.job(record.id).state == CANCELLED
    assert backend.cancel(record.id).state == CANCELLED  # cancelling again changes nothing


def test_another_client_sees_the_job_and_its_final_state(backend, make_backend):
    record = backend.submit(spec())
    other = make_backend()  # a new kernel, or the CLI
    assert final(other, record.id).state == SUCCEEDED
    with pytest.raises(NotFound):
        other.job("mnist-ffffff")


def test_only_the_users_own_jobs_are_listed(backend, make_backend, kube_env, tmp_path):
    mine = backend.submit(spec())
    bob = make_backend(settings=kube_env.settings(tmp_path / "bob", user="bob"))
    assert bob.jobs() == []
    with pytest.raises(NotFound):
        bob.job(mine.id)


def test_a_job_asking_for_another_namespace_is_refused_before_anything_is_created(backend, kube_admin, kube_env):
    with pytest.raises(InvalidArgument, match="refuses to act in 'hubml-bob'"):
        backend.submit(spec(env={"HUBML_NAMESPACE": "hubml-bob"}))
    stray = spec()
    stray.namespace = "hubml-bob"  # a spec read from a file that names a namespace
    with pytest.raises(InvalidArgument, match="hubml-bob"):
        backend.submit(stray)
    assert left_of(kube_admin, kube_env.name, "hubml.io/job") == {}


def test_a_backend_configured_for_another_namespace_is_refused(make_backend, kube_env, tmp_path):
    with pytest.raises(InvalidArgument, match=f"works in namespace '{kube_env.name}'"):
        make_backend(settings=kube_env.settings(tmp_path, namespace="hubml-bob"), home_namespace=kube_env.name)
    with pytest.raises(InvalidArgument, match="not a Kubernetes namespace"):
        make_backend(settings=kube_env.settings(tmp_path, namespace="Bob's"))


def test_another_users_namespace_is_refused_by_the_api_servers_rbac(make_backend, kube_env, tmp_path):
    """The notebook's account may do nothing in a namespace not its own: the real RBAC says 403."""
    other = make_backend(settings=kube_env.settings(tmp_path, namespace="kube-system"))
    with pytest.raises(BackendError, match=f"403 .*system:serviceaccount:{kube_env.name}:hubml-notebook.* cannot list"):
        other.jobs()


def test_storage_keys_never_reach_the_cluster_objects(backend, kube_admin, kube_env):
    """The submitting process holds the keys (it uploads the bundle); the Jobs only name the Secret."""
    record = backend.submit(spec(chief=True, workers=2, ps=1, image="registry.example.com/tf:2.21"))
    stored = json.dumps([*api(kube_admin, "jobs")(kube_env.name, label_selector=f"hubml.io/job={record.id}"),
                         *api(kube_admin, "configmaps")(kube_env.name, label_selector=f"hubml.io/job={record.id}")])
    assert '"secretRef": {"name": "hubml-storage", "optional": true}' in stored
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert kube_env.environment[key] not in stored
    backend.cancel(record.id)


def test_quota_reads_the_namespaces_resource_quota_as_the_quota_controller_counts_it(backend):
    record = backend.submit(spec("import time\ntime.sleep(600)", resources=Resources(cpu=0.5, memory="256Mi")))
    wait_for(lambda: backend.job(record.id).state == RUNNING, POD_SECONDS, "RUNNING")
    rows = wait_for(lambda: (rows := {row["resource"]: row for row in backend.quota()})["requests.cpu"]["used"] == 0.5
                    and rows, what="the quota controller counting the pod")
    assert (rows["requests.cpu"]["limit"], rows["requests.memory"]["used"]) == (4.0, 256 * 2**20)
    assert rows["pods"]["used"] == 1
    backend.cancel(record.id)


def test_a_job_larger_than_the_namespace_quota_is_refused_at_submit(backend, kube_admin, kube_env):
    with pytest.raises(InvalidArgument, match=r"--cpu: the job asks for 6 cpu in all, more than .* requests.cpu of 4"):
        backend.submit(spec(workers=3, resources=Resources(cpu=2)))
    with pytest.raises(InvalidArgument, match="--workers: the job asks for 21 pods"):
        backend.submit(spec(workers=21, resources=Resources(cpu=0.1, memory="128Mi")))
    # Replicas that name no CPU request the LimitRange's default: 17 of 0.25 is more than 4.
    with pytest.raises(InvalidArgument, match="--cpu: the job asks for 4.25 cpu"):
        backend.submit(spec(workers=17))
    assert left_of(kube_admin, kube_env.name, "hubml.io/job") == {}


def test_a_submission_the_cluster_refuses_halfway_leaves_nothing_behind(make_backend, kube_admin, kube_env):
    """The quota admits one Job: the second role's Job is refused, and what was created is taken back."""
    k8s.CoreV1Api(kube_admin).patch_namespaced_resource_quota("hubml-quota", kube_env.name,
                                                              {"spec": {"hard": {"count/jobs.batch": "1"}}})
    backend = make_backend()
    wait_for(lambda: any(row["resource"] == "count/jobs.batch" for row in backend.quota()), what="the quota updated")
    with pytest.raises(BackendError, match="create_namespaced_job .* 403 .*exceeded quota"):
        backend.submit(spec(workers=2, ps=1))
    # The record is deleted at once; the garbage collector then removes what it owned.
    wait_for(lambda: left_of(kube_admin, kube_env.name, "hubml.io/job") == {}, timeout=POD_SECONDS,
             what="nothing left after garbage collection")
    wait_for(lambda: backend.jobs() == [], what="the record gone from the cache")
