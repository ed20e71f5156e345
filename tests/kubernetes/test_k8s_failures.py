"""Failures say why, within seconds, as the real scheduler, kubelet and quota admission report them.

Every wait below has a deadline far shorter than Kubernetes' own (a Deployment's
600 s progress deadline, a Job's back-off): the reason must come from the pods
and events, not from a controller giving up.
"""
from __future__ import annotations

from k8s_testing import POD_SECONDS, api, left_of, wait_for
from kubernetes import client as k8s

from hubml.backends.base import FAILED, PENDING, RUNNING, SUCCEEDED
from hubml.specs import Resources, TrainSpec

SOON = 60.0  # seconds: well inside any controller's own deadline
SLEEP = "import time\ntime.sleep(600)"


def reason_within(backend, job_id: str, text: str, timeout: float = SOON):
    return wait_for(lambda: text in backend.job(job_id).reason and backend.job(job_id), timeout,
                    f"{job_id}'s reason to mention {text!r}")


def test_a_default_job_fits_the_shipped_quota_through_the_limit_range(backend, kube_admin, kube_env):
    """No --cpu, no --memory: the LimitRange gives the replica (and its init container) the default request,
    so the quota, which counts requests, admits the pod."""
    record = backend.submit(TrainSpec(name="plain", code="print('fits')", image="ghcr.io/hubml/runtime:0.1.0"))
    assert wait_for(lambda: backend.job(record.id).final and backend.job(record.id), POD_SECONDS).state == SUCCEEDED
    (pod,) = api(kube_admin, "pods")(kube_env.name, label_selector=f"hubml.io/job={record.id}")
    for container in [*pod["spec"]["initContainers"], *pod["spec"]["containers"]]:
        assert container["resources"]["requests"] == {"cpu": "250m", "memory": "2Gi"}, container["name"]
        assert container["resources"]["limits"] == {"memory": "2Gi"}


def test_an_exceeded_quota_is_the_reason_a_job_waits(backend, kube_env):
    holder = backend.submit(TrainSpec(name="holder", code=SLEEP, resources=Resources(memory="10Gi")))
    wait_for(lambda: backend.job(holder.id).state == RUNNING, POD_SECONDS, "the holder RUNNING")
    waiting = backend.submit(TrainSpec(name="waiting", code=SLEEP, resources=Resources(memory="8Gi")))
    job = reason_within(backend, waiting.id, "exceeded quota")
    assert job.state == PENDING  # room comes back when other work ends: it waits, saying why
    assert "requests.memory" in job.reason and "hubml-quota" in job.reason
    backend.cancel(holder.id)
    backend.cancel(waiting.id)


def test_asking_for_more_cpus_than_any_node_has_is_the_reason_a_job_waits(backend, kube_admin, kube_env):
    k8s.CoreV1Api(kube_admin).patch_namespaced_resource_quota("hubml-quota", kube_env.name,
                                                              {"spec": {"hard": {"requests.cpu": "100"}}})
    wait_for(lambda: {row["resource"]: row["limit"] for row in backend.quota()}["requests.cpu"] == 100,
             what="the larger quota")
    record = backend.submit(TrainSpec(name="huge", code=SLEEP, resources=Resources(cpu=64)))
    job = reason_within(backend, record.id, "Insufficient cpu")
    assert job.state == PENDING and job.reason.startswith("unschedulable: 0/1 nodes are available")
    backend.cancel(record.id)


def test_an_image_that_does_not_exist_fails_the_job_and_nothing_keeps_trying(backend, kube_admin, kube_env):
    record = backend.submit(TrainSpec(name="noimage", code="print(1)", image="registry.invalid/hubml/none:1"))
    job = wait_for(lambda: backend.job(record.id).final and backend.job(record.id), SOON, "FAILED")
    assert job.state == FAILED
    assert "its image cannot be pulled" in job.reason and "registry.invalid/hubml/none:1" in job.reason
    # Its Jobs are removed (no pod waits on the image forever); the record keeps the reason.
    wait_for(lambda: left_of(kube_admin, kube_env.name, f"hubml.io/job={record.id}") == {"configmaps": [record.id]},
             timeout=POD_SECONDS, what="only the record left")
    assert backend.job(record.id).reason == job.reason
