"""A replica that allocates past its `--memory` is stopped, by a cgroup of its own or by the watchdog, and
only it: its job is retried as a lost attempt and fails with the reason, keeping each attempt's log, while
a job beside it runs on unharmed."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time

import pytest

from wait_helpers import wait_for

from hubml.backends.local.memory_limits import own_hierarchy

# It stops growing at 1 GiB, so a limit that failed to act costs the machine no more than that; the job's
# timeout then fails the test.
HOG = textwrap.dedent("""
    import time
    held = []
    while len(held) < 256:
        held.append(b"x" * (4 * 2**20))  # written bytes: resident, not a lazily mapped promise
        print("holding", 4 * len(held), "MiB", flush=True)
    while True:
        time.sleep(1)
""")
NEIGHBOUR = textwrap.dedent("""
    import os, time
    print("ready", flush=True)
    while not os.path.exists(GATE):
        time.sleep(0.05)
    print("finished unharmed", flush=True)
""")


def supervisor_log(client, job) -> str:
    with open(os.path.join(client.backend.job_dir(job.id), "supervisor.log")) as handle:
        return handle.read()


@pytest.mark.parametrize("enforcement", ["cgroup", "watchdog"])
def test_a_replica_past_its_memory_limit_is_stopped_and_its_neighbour_finishes(hubml_home, monkeypatch, tmp_path,
                                                                                enforcement):
    from hubml.client import Client

    monkeypatch.setenv("HUBML_MEMORY_ENFORCEMENT", enforcement)
    client = Client()
    gate = tmp_path / "gate"
    neighbour = client.train(NEIGHBOUR, name="neighbour", hparams={"GATE": str(gate)})
    wait_for(lambda: any(line.text == "ready" for line in neighbour.logs()), timeout=60, what="the neighbour running")

    hog = client.train(HOG, name="hog", memory="200Mi", retries=1, timeout=90)
    hog.wait(timeout=120, raise_on_failure=False)
    assert (hog.state, hog.record.attempt) == ("FAILED", 2)
    assert hog.record.reason == "worker-0 exceeded its memory limit of 200 MiB (after 2 attempts)"
    log = supervisor_log(client, hog)
    assert "attempt 1 failed (worker-0 exceeded its memory limit of 200 MiB); retrying" in log
    for attempt in (1, 2):
        held = [int(line.text.split()[1]) for line in hog.logs() if line.attempt == attempt
                and line.text.startswith("holding")]
        assert held, f"attempt {attempt}'s log is kept"
        if enforcement == "cgroup":  # the kernel stops it at the limit; the watchdog a poll later
            assert max(held) < 200

    enforcers = re.findall(r"^worker-0: memory limit 200 MiB enforced by (watchdog|cgroup v[12] (\S+))$", log, re.M)
    assert [where.split()[0] for where, _ in enforcers] == [enforcement] * 2, log
    if enforcement == "cgroup":
        folders = [folder for _, folder in enforcers]
        assert [os.path.basename(folder) for folder in folders] == [f"hubml-{hog.id}-{n}-worker-0" for n in (1, 2)]
        assert not any(os.path.exists(folder) for folder in folders), "each replica's cgroup is removed"

    assert neighbour.state == "RUNNING"
    gate.touch()
    assert neighbour.wait(timeout=60).state == "SUCCEEDED" and neighbour.record.attempt == 1
    assert "finished unharmed" in [line.text for line in neighbour.logs()]
    assert "worker-0: memory limit 2 GiB enforced by" in supervisor_log(client, neighbour)  # the default


def test_the_next_supervisor_removes_replica_cgroups_a_killed_supervisor_left(client):
    """What a supervisor SIGKILLed with nobody to notice leaves: an empty replica cgroup, a while ago."""
    hierarchy = own_hierarchy()
    leftover = os.path.join(hierarchy.folder, "hubml-killed-000000-1-worker-0")
    os.mkdir(leftover)
    an_hour_ago = time.time() - 3600
    os.utime(leftover, (an_hour_ago, an_hour_ago))
    job = client.train("print('done')", name="sweeper").wait(timeout=60)
    assert "enforced by cgroup" in supervisor_log(client, job)
    assert not os.path.exists(leftover)


def test_a_job_within_its_limit_is_left_alone(client):
    job = client.train("data = b'x' * (50 * 2**20)\nprint('held', len(data) // 2**20, 'MiB')", name="modest",
                       memory="300Mi").wait(timeout=60)
    assert job.state == "SUCCEEDED" and "held 50 MiB" in [line.text for line in job.logs()]


def test_an_unknown_enforcement_is_refused_by_name(hubml_home):
    environment = {**os.environ, "HUBML_MEMORY_ENFORCEMENT": "kernel"}
    result = subprocess.run([sys.executable, "-m", "hubml.cli", "quota"], env=environment, capture_output=True,
                            text=True)
    assert result.returncode == 2
    assert "memory_enforcement" in result.stderr and "'kernel' is not one of auto, cgroup, watchdog" in result.stderr
