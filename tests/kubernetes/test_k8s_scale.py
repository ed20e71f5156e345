"""With 1,000 jobs in the namespace, refreshing every job's status costs a constant number of API requests."""
from __future__ import annotations

import time

from k8s_testing import NAMESPACE, USER, wait_for

from hubml.backends.base import PENDING, RUNNING
from hubml.backends.kubernetes import manifests
from hubml.specs import TrainSpec


def fill(cluster, backend, count: int) -> None:
    """`count` jobs as the cluster holds them: a record and a worker Job each (created in-process)."""
    spec = TrainSpec(name="sweep", code="pass").validate()
    for number in range(count):
        job_id = f"sweep-{number:06x}"
        cluster.create("configmaps", NAMESPACE, manifests.job_record(job_id, spec, backend.target, time.time()))
        job = manifests.role_job(job_id, spec, "worker", 1, backend.target)
        cluster.create("jobs", NAMESPACE, job)


def refresh_cost(server, make_backend, count: int) -> tuple[int, int]:
    """(requests for the first refresh, requests for a refresh after every job changed)."""
    cluster = server.cluster
    backend = make_backend()
    fill(cluster, backend, count)
    before = len(cluster.requests)
    jobs = backend.jobs()
    wait_for(lambda: backend._records.watches and backend._role_jobs.watches, what="both watches open")
    first = len(cluster.requests) - before
    assert len(jobs) == count and {job.state for job in jobs} == {PENDING}
    assert {job.user for job in jobs} == {USER}
    for number in range(count):  # every job starts running
        cluster.patch("jobs", NAMESPACE, f"sweep-{number:06x}-worker", {"status": {"active": 1, "ready": 1}})
    before = len(cluster.requests)
    wait_for(lambda: {job.state for job in backend.jobs()} == {RUNNING}, timeout=60, what="all RUNNING")
    second = len(cluster.requests) - before
    backend.close()
    return first, second


def test_refreshing_1000_jobs_costs_as_many_requests_as_refreshing_10(server, make_backend):
    small = refresh_cost(server, make_backend, 10)
    server.cluster.objects.clear()
    large = refresh_cost(server, make_backend, 1000)
    print("\njobs   first refresh   refresh after every job changed   (API requests, counted at the fake server)")
    print(f"{10:>4}   {small[0]:>13}   {small[1]:>31}")
    print(f"{1000:>4}   {large[0]:>13}   {large[1]:>31}")
    assert large == small
    assert large[0] == 4, "two lists (records, Jobs) and two watches"
    assert large[1] == 0, "every change arrived on the open watches"
