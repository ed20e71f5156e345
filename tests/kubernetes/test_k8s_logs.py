"""Logs of every replica, with role and index, from real pods: resumed after a cut with no line lost or repeated."""
from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlsplit

from k8s_testing import POD_SECONDS, AuditLog, gated, open_gate, wait_for
from kubernetes import client as k8s

from hubml.specs import TrainSpec

def collect(backend, job_id, cursor=None):
    """Follow a job's logs in a thread; returns (lines, thread)."""
    lines = []
    thread = threading.Thread(target=lambda: lines.extend(backend.logs(job_id, follow=True, cursor=cursor)),
                              daemon=True)
    thread.start()
    return lines, thread


def texts(lines, replica: str, prefix: str = "step") -> list[str]:
    return [line.text for line in lines if line.replica == replica and line.text.startswith(prefix)]


def test_a_cut_log_stream_resumes_with_no_line_lost_or_repeated(make_backend, proxy, kube_env, kube_admin):
    backend = make_backend(kubeconfig=proxy.notebook_kubeconfig)
    audit = AuditLog(kube_env.name)
    record = backend.submit(TrainSpec(name="logs", code=gated(5, 5), workers=2))
    lines, follower = collect(backend, record.id)
    wait_for(lambda: all(len(texts(lines, replica)) == 5 for replica in ("worker-0", "worker-1")), POD_SECONDS,
             what="both workers' first five lines")
    proxy.hold()
    assert proxy.cut() >= 2, "both pods' streams were open"
    # The last five lines are written while the streams are down, in the second of the last ones read:
    # resuming from `sinceTime` (whole seconds) replays those, and the saved position skips them.
    open_gate(kube_env, record.id)
    batch = k8s.BatchV1Api(kube_admin)
    wait_for(lambda: batch.read_namespaced_job(f"{record.id}-worker", kube_env.name).status.succeeded == 2,
             POD_SECONDS, what="both workers done while the streams are down")
    proxy.release()
    follower.join(timeout=POD_SECONDS)
    assert not follower.is_alive(), "the follow ends once the job is final and every line is read"
    expected = [f"step {step}" for step in range(10)]
    assert texts(lines, "worker-0") == texts(lines, "worker-1") == expected
    resumed = [event for event in audit.requests() if event["objectRef"].get("subresource") == "log"
               and "sinceTime" in parse_qs(urlsplit(event["requestURI"]).query)]
    assert len({event["objectRef"]["name"] for event in resumed}) == 2, "each pod's read resumed where it was"
    print(f"\nlog streams cut once: {len(lines)} lines, each once; {len(resumed)} reads resumed with sinceTime")


def test_a_follow_resumed_from_a_cursor_continues_after_the_last_line(backend, kube_env):
    record = backend.submit(TrainSpec(name="cursor", code=gated(4, 2, "line")))
    first = wait_for(lambda: (lambda lines: lines if len(texts(lines, "worker-0", "line")) == 4 else None)(
        list(backend.logs(record.id))), POD_SECONDS, what="four lines")
    shown = [line for line in first if line.text.startswith("line")]
    cursor = shown[1].cursor  # a kernel died after reading two of them
    open_gate(kube_env, record.id)
    rest = list(backend.logs(record.id, follow=True, cursor=cursor))
    assert texts(rest, "worker-0", "line") == ["line 2", "line 3", "line 4", "line 5"]
