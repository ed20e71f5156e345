"""The detached supervisors themselves SIGKILLed: nothing runs on unseen, and the record says why."""
from __future__ import annotations

import os
import signal
from pathlib import Path

from fault_helpers import replica_pids
from wait_helpers import wait_for

from hubml.backends.local.endpoint_supervisor import PROCESS_KIND
from hubml.backends.local.memory_limits import leftover_cgroups
from hubml.backends.local.store import LOST_SUPERVISOR

SLEEPER = "import time\nprint('working', flush=True)\ntime.sleep(300)\n"
from testdata import TF_SERVING_TESTDATA as TESTDATA


def test_a_killed_job_supervisor_takes_its_replicas_with_it_and_the_job_fails_saying_why(client):
    job = client.train(SLEEPER, name="orphan", workers=2)
    wait_for(lambda: sum(line.text == "working" for line in job.logs()) == 2, timeout=60, what="both replicas")
    replicas = replica_pids(job.id, attempt=1)
    assert len(replicas) == 2
    os.kill(client.backend.store.job(job.id)["supervisor_pid"], signal.SIGKILL)

    wait_for(lambda: replica_pids(job.id, attempt=1) == [], timeout=30, what="the replicas to die with it")
    job.wait(timeout=30, raise_on_failure=False)
    assert (job.state, job.record.reason) == ("FAILED", LOST_SUPERVISOR)
    assert leftover_cgroups(job.id) == [], "the replicas' cgroups are removed"


def test_a_job_whose_supervisor_was_killed_holds_neither_capacity_nor_its_place_in_the_queue(hubml_home,
                                                                                           monkeypatch):
    """Nobody reads the lost jobs' records: the queued job's own supervisor finds them lost and starts."""
    from hubml.client import Client

    monkeypatch.setenv("HUBML_CAPACITY_CPU", "1")
    client = Client()
    running, lost_in_queue = client.train(SLEEPER, name="running"), client.train(SLEEPER, name="queued-lost")
    waiting = client.train("print('started')", name="waiting")
    wait_for(lambda: client.backend.store.job(waiting.id)["reason"] == "queued: waiting for earlier jobs to start",
             timeout=60, what="the third job queued behind the second")
    for job in (running, lost_in_queue):
        os.kill(client.backend.store.job(job.id)["supervisor_pid"], signal.SIGKILL)

    assert waiting.wait(timeout=60).state == "SUCCEEDED"
    for job in (running, lost_in_queue):
        assert (client.backend.store.job(job.id)["state"], job.record.reason) == ("FAILED", LOST_SUPERVISOR)
        assert leftover_cgroups(job.id) == [], "the lost replica's cgroup is removed"


def test_a_killed_endpoint_supervisor_takes_its_server_with_it_and_the_endpoint_fails_saying_why(client, tmp_path):
    base = tmp_path / "halves"
    base.mkdir()
    (base / "1").symlink_to(TESTDATA / "saved_model_half_plus_two_cpu" / "00000123")
    endpoint = client.deploy(str(base), name="halves", wait=False)
    server = wait_for(lambda: (client.backend.store.get(PROCESS_KIND, "halves") or {}).get("serve_pid"), timeout=30,
                      what="the server to start")
    os.kill(endpoint.record["pid"], signal.SIGKILL)

    wait_for(lambda: not os.path.exists(f"/proc/{server}") or _zombie(server), timeout=30,
             what="the server to die with its supervisor")
    assert (endpoint.state, endpoint.record["reason"]) == ("FAILED", "the endpoint's supervisor process was lost")
    client.undeploy("halves")
    assert client.endpoints() == []


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
