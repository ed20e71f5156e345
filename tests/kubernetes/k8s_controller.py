"""What the tests do in place of Kubernetes' Job controller, Deployment controller and kubelet.

Each method changes objects in the fake cluster the way the real controllers
would: pods for every index of an Indexed Job (hostname, index label, owner),
the Job's counts, `completedIndexes` and conditions, pod phases, log lines.
"""
from __future__ import annotations

import secrets
from typing import Any

from hubml.backends.kubernetes.manifests import INDEX_LABEL, REPLICA_CONTAINER
from fake_apiserver import FakeCluster, now_rfc3339


class Controller:
    def __init__(self, cluster: FakeCluster, namespace: str):
        self.cluster = cluster
        self.namespace = namespace

    def job(self, name: str) -> dict[str, Any]:
        return self.cluster.get("jobs", self.namespace, name)

    def start(self, job_name: str) -> list[str]:
        """Create and run one pod per index; the Job then counts them active and ready."""
        job = self.job(job_name)
        count = job["spec"]["completions"]
        pods = [self.run_pod(job, index) for index in range(count)]
        self.cluster.patch("jobs", self.namespace, job_name, {"status": {
            "active": count, "ready": count, "startTime": now_rfc3339()}})
        return pods

    def run_pod(self, job: dict[str, Any], index: int) -> str:
        template = job["spec"]["template"]
        name = f"{job['metadata']['name']}-{index}-{secrets.token_hex(3)}"
        pod = {
            "metadata": {"name": name, "labels": {**template["metadata"]["labels"], INDEX_LABEL: str(index),
                                                  "batch.kubernetes.io/job-name": job["metadata"]["name"]},
                         "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": job["metadata"]["name"],
                                              "uid": job["metadata"]["uid"], "controller": True}]},
            "spec": {**template["spec"], "hostname": f"{job['metadata']['name']}-{index}"},
            "status": {"phase": "Running",
                       "containerStatuses": [{"name": REPLICA_CONTAINER, "state": {"running": {}}}]},
        }
        return self.cluster.create("pods", self.namespace, pod)["metadata"]["name"]

    def end_pod(self, pod: str, code: int) -> None:
        phase = "Succeeded" if code == 0 else "Failed"
        self.cluster.patch("pods", self.namespace, pod, {"status": {"phase": phase, "containerStatuses": [
            {"name": REPLICA_CONTAINER, "state": {"terminated": {"exitCode": code}}}]}})

    def complete_index(self, job_name: str, index: int, pod: str) -> None:
        """A pod of the Job exits 0: its index is completed; the last one completes the Job."""
        self.end_pod(pod, 0)
        job = self.job(job_name)
        done = sorted({int(i) for i in filter(None, (job["status"].get("completedIndexes") or "").split(","))}
                      | {index})
        status: dict[str, Any] = {"completedIndexes": ",".join(map(str, done)), "succeeded": len(done),
                                  "active": job["spec"]["completions"] - len(done),
                                  "ready": job["spec"]["completions"] - len(done)}
        if len(done) == job["spec"]["completions"]:
            status.update(completionTime=now_rfc3339(), conditions=[
                {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": now_rfc3339()},
                {"type": "Complete", "status": "True", "lastTransitionTime": now_rfc3339()}])
        self.cluster.patch("jobs", self.namespace, job_name, {"status": status})

    def fail(self, job_name: str, reason: str, message: str, pod: str | None = None, code: int = 1) -> None:
        """The Job fails (pod failure policy, backoff limit, deadline), as the controller reports it."""
        if pod:
            self.end_pod(pod, code)
        self.cluster.patch("jobs", self.namespace, job_name, {"status": {
            "failed": 1, "active": 0, "ready": 0, "conditions": [
                {"type": "FailureTarget", "status": "True", "reason": reason, "message": message,
                 "lastTransitionTime": now_rfc3339()},
                {"type": "Failed", "status": "True", "reason": reason, "message": message,
                 "lastTransitionTime": now_rfc3339()}]}})

    def log(self, pod: str, text: str, stamp_ns: int | None = None) -> int:
        return self.cluster.append_log(self.namespace, pod, text, stamp_ns)
