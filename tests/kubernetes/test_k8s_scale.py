"""With 1,000 jobs in the namespace, refreshing every job's status costs a constant number of API requests,
counted by the real API server's audit log."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import cluster_testing
from k8s_testing import AuditLog, wait_for
from kubernetes import client as k8s

from hubml.backends.base import PENDING
from hubml.backends.kubernetes import manifests
from hubml.backends.kubernetes.tenancy import DEFAULT_QUOTA
from hubml.specs import TrainSpec

TOUCHED = "hubml.io/test-touched"


def fill(admin: k8s.ApiClient, namespace: str, backend, count: int) -> None:
    """`count` jobs as hubml leaves them: a record and a worker Job each. The Jobs are suspended, so the
    real Job controller keeps them and starts no pod."""
    spec = TrainSpec(name="sweep", code="pass").validate()
    core, batch = k8s.CoreV1Api(admin), k8s.BatchV1Api(admin)

    def create(number: int) -> None:
        job_id = f"sweep-{number:06x}"
        core.create_namespaced_config_map(namespace, manifests.job_record(job_id, spec, backend.target, time.time()))
        job = manifests.role_job(job_id, spec, "worker", 1, backend.target)
        job["spec"]["suspend"] = True
        batch.create_namespaced_job(namespace, job)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(count)))


def touch_every_job(admin: k8s.ApiClient, namespace: str, count: int) -> None:
    batch = k8s.BatchV1Api(admin)
    patch = {"metadata": {"annotations": {TOUCHED: "yes"}}}
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda number: batch.patch_namespaced_job(f"sweep-{number:06x}-worker", namespace, patch),
                      range(count)))


def refresh_cost(kube_cluster, kube_admin, make_backend, folder, count: int) -> tuple[int, int]:
    """(requests for the first refresh, requests for a refresh after every job changed)."""
    quota = {**DEFAULT_QUOTA, "configmaps": str(count + 100), "count/jobs.batch": str(count + 100)}
    namespace = cluster_testing.make_user_namespace(kube_cluster, kube_admin, cluster_testing.namespace_name(
        f"scale-{count}"), "alice", folder, quota)
    try:
        backend = make_backend(kubeconfig=namespace.kubeconfig, settings=namespace.settings(folder / "home"))
        fill(kube_admin, namespace.name, backend, count)
        audit = AuditLog(namespace.name)
        jobs = backend.jobs()
        watches = (backend._records, backend._role_jobs, backend._pods, backend._events)
        wait_for(lambda: all(watch.watches for watch in watches), what="every watch open")
        first = len(audit.requests())
        assert len(jobs) == count and {job.state for job in jobs} == {PENDING}
        assert {job.user for job in jobs} == {"alice"}
        audit.mark()
        touch_every_job(kube_admin, namespace.name, count)
        wait_for(lambda: sum(TOUCHED in (job["metadata"].get("annotations") or {})
                             for job in backend._role_jobs.snapshot().values()) == count,
                 timeout=120, what="every change on the open watch")
        assert len(backend.jobs()) == count
        second = len(audit.requests())
        backend.close()
        return first, second
    finally:
        namespace.api_client.close()
        cluster_testing.delete_namespace(kube_admin, namespace.name)


def test_refreshing_1000_jobs_costs_as_many_requests_as_refreshing_10(kube_cluster, kube_admin, make_backend,
                                                                      tmp_path):
    small = refresh_cost(kube_cluster, kube_admin, make_backend, tmp_path, 10)
    large = refresh_cost(kube_cluster, kube_admin, make_backend, tmp_path, 1000)
    print("\njobs   first refresh   refresh after every job changed   (API requests, in the API server's audit log)")
    print(f"{10:>4}   {small[0]:>13}   {small[1]:>31}")
    print(f"{1000:>4}   {large[0]:>13}   {large[1]:>31}")
    assert large == small
    assert large[0] == 8, "four lists (records, Jobs, pods, warning events) and four watches"
    assert large[1] == 0, "every change arrived on the open watches"
