"""Logs of every replica, with role and index, resumed after a drop with no line lost or repeated."""
from __future__ import annotations

import threading

from k8s_testing import NAMESPACE, wait_for

from hubml.backends.base import SUCCEEDED
from hubml.specs import TrainSpec


def collect(backend, job_id, cursor=None):
    """Follow a job's logs in a thread; returns (lines, thread)."""
    lines = []
    thread = threading.Thread(target=lambda: lines.extend(backend.logs(job_id, follow=True, cursor=cursor)),
                              daemon=True)
    thread.start()
    return lines, thread


def follow_reconnects(server) -> list[dict]:
    return [query for method, path, query in list(server.cluster.requests)
            if path.endswith("/log") and query.get("follow") == "true" and "sinceTime" in query]


def test_a_dropped_log_stream_resumes_with_no_line_lost_or_repeated(backend, controller, server):
    record = backend.submit(TrainSpec(name="mnist", code="pass", workers=2))
    pods = controller.start(f"{record.id}-worker")
    lines, follower = collect(backend, record.id)
    expected = []
    for step in range(5):
        controller.log(pods[0], f"step {step}")
        expected.append(f"[worker-0] step {step}")
    # Two lines with the very same timestamp: only the count of lines at a timestamp tells them apart.
    stamp = controller.log(pods[1], "same instant a")
    controller.log(pods[1], "same instant b", stamp)
    expected += ["[worker-1] same instant a", "[worker-1] same instant b"]
    wait_for(lambda: len(lines) == 7, what="7 lines before the drop")
    server.cluster.drop_log_streams()  # both pods' streams cut mid-way
    wait_for(lambda: len(follow_reconnects(server)) == 2, what="both streams reconnected")
    for step in range(5, 10):  # written in the same second as the last ones: sinceTime replays those
        controller.log(pods[0], f"step {step}")
        expected.append(f"[worker-0] step {step}")
    controller.log(pods[1], "after the drop")
    expected.append("[worker-1] after the drop")
    controller.complete_index(f"{record.id}-worker", 1, pods[1])
    controller.complete_index(f"{record.id}-worker", 0, pods[0])
    follower.join(timeout=20)
    assert not follower.is_alive(), "the follow ends once the job is final and every line is read"
    by_replica = {name: [str(line) for line in lines if line.replica == name] for name in ("worker-0", "worker-1")}
    assert by_replica == {name: [text for text in expected if text.startswith(f"[{name}]")] for name in by_replica}
    assert len(lines) == len(expected)
    reconnects = follow_reconnects(server)
    print(f"\nlog streams dropped once: {len(lines)} lines, each once; "
          f"{len(reconnects)} follow reconnections with sinceTime")


def test_a_follow_resumed_from_a_cursor_continues_after_the_last_line(backend, controller):
    record = backend.submit(TrainSpec(name="mnist", code="pass", workers=2))
    pods = controller.start(f"{record.id}-worker")
    for step in range(4):
        controller.log(pods[0], f"first {step}")
        controller.log(pods[1], f"second {step}")
    first = list(backend.logs(record.id))
    assert [line.replica for line in first] == ["worker-0"] * 4 + ["worker-1"] * 4
    cursor = first[5].cursor  # a kernel died after reading six lines
    controller.log(pods[1], "second 4")
    controller.complete_index(f"{record.id}-worker", 1, pods[1])
    controller.complete_index(f"{record.id}-worker", 0, pods[0])
    wait_for(lambda: backend.job(record.id).state == SUCCEEDED, what="SUCCEEDED")
    rest = list(backend.logs(record.id, follow=True, cursor=cursor))
    assert [line.text for line in rest] == ["second 2", "second 3", "second 4"]


def test_a_retried_replica_logs_as_the_next_attempt(backend, controller, server):
    record = backend.submit(TrainSpec(name="mnist", code="pass", retries=1))
    job = controller.job(f"{record.id}-worker")
    first = controller.run_pod(job, 0)
    controller.log(first, "first try")
    controller.end_pod(first, 137)  # killed
    # The Job controller replaces it after its back-off delay (10 s at least): an older creationTimestamp.
    server.cluster.patch("pods", NAMESPACE, first, {"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"}})
    second = controller.run_pod(job, 0)
    controller.log(second, "second try")
    assert [(line.attempt, line.text) for line in backend.logs(record.id)] == [(1, "first try"), (2, "second try")]
