"""One list-and-watch per namespace: resumed from its resourceVersion when the stream drops."""
from __future__ import annotations

import threading

import pytest
from k8s_testing import NAMESPACE, wait_for
from kubernetes import client as k8s

from hubml.backends.base import SUCCEEDED
from hubml.backends.kubernetes.watch import ResourceWatch
from hubml.specs import TrainSpec


@pytest.fixture
def job_watch(server):
    api_client = k8s.ApiClient(k8s.Configuration(host=server.url))
    seen: list[tuple[str, int]] = []
    lock = threading.Lock()

    def remember(obj):
        with lock:
            seen.append((obj["metadata"]["name"], int(obj.get("status", {}).get("ready") or 0)))

    watch = ResourceWatch(k8s.BatchV1Api(api_client).list_namespaced_job, NAMESPACE, "hubml.io/job", remember)
    yield watch, seen
    watch.stop()
    api_client.close()


def make_job(cluster, name: str) -> None:
    cluster.create("jobs", NAMESPACE, {"metadata": {"name": name, "labels": {"hubml.io/job": name}},
                                       "spec": {"completions": 1}})


def watch_versions(cluster) -> list[str]:
    return [query.get("resourceVersion") for method, path, query in cluster.requests if query.get("watch") == "true"]


def test_a_dropped_watch_resumes_from_its_resource_version_without_missing_a_transition(server, job_watch):
    watch, seen = job_watch
    cluster = server.cluster
    make_job(cluster, "a-000001")
    watch.start().wait_synced(5)
    wait_for(lambda: cluster.count(watch=True) == 1, what="the watch open")
    last_seen = str(cluster.resource_version)
    cluster.drop_watches()
    for ready in (1, 2, 3):  # three transitions while the stream is down
        cluster.patch("jobs", NAMESPACE, "a-000001", {"status": {"ready": ready}})
    wait_for(lambda: (watch.get("a-000001") or {}).get("status", {}).get("ready") == 3, what="ready=3")
    assert [ready for name, ready in seen] == [0, 1, 2, 3]  # every transition, in order, once
    assert watch.lists == 1, "resumed, not listed again"
    assert watch_versions(cluster)[:2] == [last_seen, last_seen]
    print(f"\nwatch dropped and resumed: {watch.lists} list, {watch.watches} watch requests, "
          f"resumed at resourceVersion {last_seen}")


def test_a_resource_version_too_old_to_resume_lists_again(server, job_watch):
    watch, seen = job_watch
    cluster = server.cluster
    make_job(cluster, "a-000001")
    make_job(cluster, "b-000002")
    watch.start().wait_synced(5)
    wait_for(lambda: cluster.count(watch=True) == 1, what="the watch open")
    cluster.drop_watches()
    cluster.delete("jobs", NAMESPACE, "b-000002")
    cluster.patch("jobs", NAMESPACE, "a-000001", {"status": {"ready": 1}})
    cluster.compact()  # the server no longer keeps those events: it answers 410 Gone
    wait_for(lambda: watch.lists == 2, what="a second list")
    wait_for(lambda: set(watch.snapshot()) == {"a-000001"}, what="the deletion seen")
    assert watch.get("a-000001")["status"]["ready"] == 1


def test_the_backend_sees_every_transition_across_a_dropped_watch(backend, controller, server):
    record = backend.submit(TrainSpec(name="mnist", code="pass", workers=1, ps=1))
    backend.jobs()
    states = []
    observe = backend._observe

    def spy(obj):
        states.append(backend._job_record(backend._records.get(record.id), backend._role_jobs.snapshot()).state)
        observe(obj)

    backend._records.on_change = backend._role_jobs.on_change = spy
    server.cluster.drop_watches()
    pods = controller.start(f"{record.id}-worker")
    controller.start(f"{record.id}-ps")
    controller.complete_index(f"{record.id}-worker", 0, pods[0])
    wait_for(lambda: backend.job(record.id).state == SUCCEEDED, what="SUCCEEDED")
    assert "RUNNING" in states and states.index("RUNNING") < states.index(SUCCEEDED)
    assert backend._role_jobs.lists == backend._records.lists == 1
    wait_for(lambda: not server.cluster.list("jobs", NAMESPACE, f"hubml.io/job={record.id},hubml.io/role=ps")[0],
             what="the ps stopped once worker 0 decided")
