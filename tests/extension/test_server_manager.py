"""`HubMLManager` on real local-backend jobs, with no HTTP server."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from hubml import storage
from hubml.exceptions import InvalidArgument, NotFound
from hubml.extension.server.manager import HubMLManager, check_limit, parse_cursor


@pytest.fixture
def manager(client) -> HubMLManager:
    return HubMLManager(lambda: client)


def test_jobs_newest_first_and_json_ready(manager, submit):
    first, second = submit("chatty", name="first"), submit("chatty", name="second")
    listed = manager.jobs()["jobs"]
    assert [job["id"] for job in listed] == [second.id, first.id]
    assert json.loads(json.dumps(listed)) == listed
    assert {"id", "name", "state", "reason", "attempt", "duration", "model", "spec"} <= listed[0].keys()


def test_describe_carries_metrics(manager, submit):
    job = submit("ticker").wait()
    described = manager.job(job.id)
    assert described["state"] == "SUCCEEDED"
    assert [record["epoch"] for record in described["metrics"]] == [1, 2, 3]


def test_quota_shows_used_against_capacity_and_what_the_queue_waits_for(one_cpu, manager, submit, wait_for_line,
                                                                        eventually):
    running, queued = submit("sleeper", name="holder"), submit("chatty", name="waiter")
    wait_for_line(running, "ready")
    eventually(lambda: queued.record.reason == "queued: waiting for cpu")
    quota = manager.quota()
    assert json.loads(json.dumps(quota)) == quota
    cpu = next(row for row in quota["resources"] if row["resource"] == "cpu")
    assert cpu == {"resource": "cpu", "used": 1.0, "limit": 1.0, "source": "local capacity", "waiting": 1}
    assert quota["queued"] == {"waiting for cpu": 1}


def test_unknown_and_malformed_ids(manager):
    with pytest.raises(NotFound):
        manager.job("nope-000000")
    with pytest.raises(InvalidArgument):
        manager.job("Not An Id")


def test_logs_page_by_page_with_the_returned_cursor(manager, submit):
    job = submit("chatty").wait()
    texts, cursor, pages = [], None, 0
    while True:
        page = manager.logs(job.id, cursor, limit=2)
        texts += [line["text"] for line in page["lines"]]
        cursor, pages = page["cursor"], pages + 1
        if page["final"]:
            break
        assert page["more"]
    assert [text for text in texts if text.startswith("line")] == [f"line {i}" for i in range(5)]
    assert pages >= 3
    assert manager.logs(job.id, cursor)["lines"] == []  # nothing repeated after the last cursor


def test_follow_waits_for_the_next_line(manager, submit, wait_for_line):
    job = submit("ticker")
    wait_for_line(job, "epoch 1")
    cursor = manager.logs(job.id)["cursor"]
    page = asyncio.run(manager.follow_logs(job.id, cursor, wait=20))
    assert page["lines"][0]["text"] == "epoch 2"


def test_follow_returns_at_once_when_final(manager, submit):
    job = submit("chatty").wait()
    page = asyncio.run(manager.follow_logs(job.id, manager.logs(job.id)["cursor"], wait=20))
    assert page == {**page, "lines": [], "final": True}


def test_cancel_ends_a_running_job(manager, submit, wait_for_line):
    job = submit("sleeper")
    wait_for_line(job, "ready")
    assert manager.cancel(job.id)["state"] == "CANCELLED"


def test_deploy_refuses_a_job_without_a_model(manager, submit):
    job = submit("chatty").wait()
    with pytest.raises(InvalidArgument, match=f"{job.id}.*model"):
        manager.deploy({"job": job.id})
    with pytest.raises(InvalidArgument, match="'job'"):
        manager.deploy({})


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_bad_cursor(text):
    with pytest.raises(InvalidArgument, match="cursor"):
        parse_cursor(text)


@pytest.mark.parametrize("limit", ["0", "abc", 0, 10**6, True])
def test_bad_limit(limit):
    with pytest.raises(InvalidArgument, match="limit"):
        check_limit(limit)


def test_the_console_views_models_endpoints_and_sweeps(client, submit, tune):
    manager = HubMLManager(lambda: client, proxy_base="/user/ada/proxy")
    job = submit("exporter", name="doubler").wait(timeout=180)
    client.deploy(job, name="doubler").predict([[1.0, 2.0]], protocol="rest")
    [model] = manager.models()["models"]
    assert model["name"] == "doubler" and model["versions"][0]["job"] == job.id
    assert model["versions"][0]["endpoints"] == ["doubler"]
    [endpoint] = manager.endpoints()["endpoints"]
    assert endpoint["example"] == {"instances": [[0.5, 0.5]]}
    assert endpoint["traffic"]["requests"] == 1 and endpoint["traffic"]["errors"] == 0
    assert endpoint["traffic"]["mean_latency_ms"] > 0
    port = endpoint["rest_url"].rsplit(":", 1)[1]
    assert endpoint["browser_url"] == f"/user/ada/proxy/{port}/v1/models/doubler:predict"
    sweep = tune((1, 2)).wait(timeout=120)
    [view] = manager.sweeps()["sweeps"]
    assert view["id"] == sweep.id and sorted(trial["metrics"]["score"] for trial in view["trials"]) == [-1, 0]
    assert json.loads(json.dumps(manager.models())) == manager.models()


def test_a_running_jobs_reserved_version_is_not_a_model_yet(client, submit, wait_for_line):
    manager = HubMLManager(lambda: client, proxy_base="/user/ada/proxy")
    job = submit("sleeper", name="holder")  # its model version is reserved (an empty folder) when it starts
    wait_for_line(job, "ready")
    assert (Path(storage.local_path(client.settings.storage)) / "models" / "holder").is_dir()
    assert manager.models()["models"] == []
    with pytest.raises(NotFound):
        client.model("holder")
