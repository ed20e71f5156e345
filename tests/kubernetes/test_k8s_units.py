"""The pure parts: log de-duplication after a reconnect, timestamps, completed indexes, job states."""
from __future__ import annotations

import json
import time

from hypothesis import given
from hypothesis import strategies as st

from hubml.backends.base import FAILED, PENDING, RUNNING, SUCCEEDED
from hubml.backends.kubernetes.logs import new_lines, parse_timestamp
from hubml.backends.kubernetes.status import completed_indexes, decide

BASE_NS = 1_764_230_400 * 10**9  # 2025-11-27T08:00:00Z


def rfc3339_nano(ns: int) -> str:
    """A timestamp as the kubelet writes it: Go's RFC3339Nano, trailing zeros of the fraction trimmed."""
    seconds, fraction = divmod(ns, 10**9)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{text}.{fraction:09d}".rstrip("0").rstrip(".") + "Z"


@given(st.integers(min_value=0, max_value=10**15))
def test_log_timestamps_parse_as_the_kubelet_writes_them(offset):
    """Go's RFC3339Nano trims trailing zeros of the fraction (or drops it); the parser reads every form."""
    assert parse_timestamp(rfc3339_nano(BASE_NS + offset)) == BASE_NS + offset


@given(gaps=st.lists(st.sampled_from([0, 0, 1, 999, 10**6, 4 * 10**8, 10**9]), min_size=1, max_size=40),
       data=st.data())
def test_a_reconnect_from_any_line_yields_exactly_the_lines_after_it(gaps, data):
    """Whatever line a stream dropped after, replaying from `sinceTime` (the second it fell in) and
    skipping by the saved position gives the remaining lines, each once, even where timestamps repeat."""
    stamps, stamp = [], BASE_NS
    for gap in gaps:
        stamp += gap
        stamps.append(stamp)
    raw = [f"{rfc3339_nano(each)} line {number}" for number, each in enumerate(stamps)]
    cut = data.draw(st.integers(min_value=0, max_value=len(raw)))
    position = [0, 0]
    delivered = [text for text, _ in new_lines(iter(raw[:cut]), position)]
    since_second = position[0] // 10**9 * 10**9
    replayed = [line for line, each in zip(raw, stamps) if each >= since_second]  # what the API sends again
    delivered += [text for text, _ in new_lines(iter(replayed), position)]
    assert delivered == [f"line {number}" for number in range(len(raw))]


def test_completed_indexes_read_the_job_controllers_ranges():
    assert completed_indexes({"status": {"completedIndexes": "0,2-4,7"}}) == {0, 2, 3, 4, 7}
    assert completed_indexes({"status": {}}) == set()
    assert completed_indexes({"status": {"conditions": [{"type": "Complete", "status": "True"}]}}) == {0}


def role_job(**status) -> dict:
    return {"metadata": {"name": "t-000001-role"}, "status": status}


def test_the_chief_or_worker_zero_decides_and_any_role_failing_fails_the_job():
    spec = {"name": "t", "chief": True, "workers": 2, "ps": 1, "timeout": 10, "retries": 0}
    now = 1.0
    assert decide(spec, {}, [], [], None, 0.0, now)[0] == PENDING
    jobs = {"chief": role_job(ready=0), "worker": role_job(ready=0), "ps": role_job(ready=0)}
    assert decide(spec, jobs, [], [], None, 0.0, now)[0] == PENDING
    jobs["worker"] = role_job(ready=2)
    assert decide(spec, jobs, [], [], None, 0.0, now)[0] == RUNNING
    jobs["worker"] = role_job(completedIndexes="0,1")  # the workers finishing does not decide
    assert decide(spec, jobs, [], [], None, 0.0, now)[0] == PENDING
    jobs["chief"] = role_job(completedIndexes="0", completionTime="2026-11-27T09:00:00Z")
    assert decide(spec, jobs, [], [], None, 0.0, now)[:3] == (SUCCEEDED, "", 0)
    jobs["ps"] = role_job(conditions=[{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}])
    assert decide(spec, jobs, [], [], None, 0.0, now)[:2] == (FAILED, "timed out after 10 s")


def test_a_job_whose_objects_vanished_unseen_is_reported_lost_not_pending():
    spec = {"name": "t", "workers": 1}
    assert decide(spec, {}, [], [], None, submitted_at=0.0, now=60.0)[0] == PENDING
    state, reason, _, _ = decide(spec, {}, [], [], None, submitted_at=0.0, now=600.0)
    assert state == FAILED and "gone" in reason
    assert json.dumps(reason)


def test_once_the_jobs_are_gone_the_outcome_in_storage_is_the_state():
    spec = {"name": "t", "workers": 1}
    outcome = {"state": SUCCEEDED, "reason": "", "exit_code": 0, "finished_at": 42.0, "attempt": 1}
    assert decide(spec, {}, [], [], outcome, submitted_at=0.0, now=600.0) == (SUCCEEDED, "", 0, 42.0)


def config_error_pod(message: str) -> dict:
    return {"metadata": {"name": "broken-1", "ownerReferences": [{"name": "broken-rs"}]},
            "status": {"containerStatuses": [{"name": "replica", "state": {"waiting": {
                "reason": "CreateContainerConfigError", "message": message}}}]}}


def test_a_secret_the_kubelet_cannot_read_yet_waits_and_one_that_is_missing_fails():
    from hubml.backends.kubernetes.problems import pod_problem
    from hubml.backends.kubernetes.status import endpoint_state

    deployment = {"spec": {"replicas": 1}, "status": {}}
    not_yet = config_error_pod("failed to sync secret cache: timed out waiting for the condition")
    assert not pod_problem(not_yet).permanent
    assert endpoint_state(deployment, [not_yet])[0] == "PENDING"
    missing = config_error_pod('secret "hubml-storage" not found')
    assert pod_problem(missing).permanent
    assert endpoint_state(deployment, [missing])[0] == "FAILED"
