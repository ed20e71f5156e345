"""The local backend under load: jobs that name no resources request the defaults and queue by the
machine's capacity, observed from the replicas' own records; `hubml quota` shows the queue."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from overlap import most_at_once
from wait_helpers import wait_for

JOBS = 60
CPUS = 2  # the capacity the test sets: with the default request of 1 CPU, two replicas at once

# Each replica records when its process started (the kernel's start time, rounded up to the next clock
# tick so it is never earlier than the truth) and when its code ended, on the one boot-time clock.
RECORDING_JOB = textwrap.dedent("""
    import os, time
    with open("/proc/self/stat") as stat:
        started = (int(stat.read().rsplit(")", 1)[1].split()[19]) + 1) / os.sysconf("SC_CLK_TCK")
    ended = time.clock_gettime(time.CLOCK_BOOTTIME)
    with open(os.path.join(SPANS, os.environ["HUBML_JOB_ID"]), "w") as record:
        record.write(f"{started} {ended}")
""")


def gated_job(gate: Path) -> str:
    return f"import os, time\nprint('ready', flush=True)\nwhile not os.path.exists({str(gate)!r}):\n" \
           "    time.sleep(0.05)\n"


def quota_rows(client) -> dict[str, dict]:
    return {row["resource"]: row for row in client.quota()}


def test_sixty_jobs_at_once_run_one_replica_per_cpu_and_all_succeed(hubml_home, monkeypatch, tmp_path):
    from hubml.client import Client

    monkeypatch.setenv("HUBML_CAPACITY_CPU", str(CPUS))
    client = Client()
    spans_dir = tmp_path / "spans"
    spans_dir.mkdir()
    jobs = [client.train(RECORDING_JOB, name=f"load-{number}", hparams={"SPANS": str(spans_dir)})
            for number in range(JOBS)]

    def full() -> dict | None:
        rows = quota_rows(client)
        return rows if rows["cpu"]["used"] == CPUS and rows["cpu"]["waiting"] else None

    full = wait_for(full, timeout=120, what="both CPUs held while jobs wait for one")
    assert full["memory"]["used"] == CPUS * 2 * 2**30  # the default 2Gi each

    for job in jobs:
        job.wait(timeout=600)
    assert [job.state for job in jobs] == ["SUCCEEDED"] * JOBS
    recorded = [tuple(map(float, (spans_dir / job.id).read_text().split())) for job in jobs]
    assert most_at_once(recorded) <= CPUS, "more replicas ran at once than the default requests fit"
    admitted = [(job.record.started_at, job.record.finished_at) for job in jobs]
    assert most_at_once(admitted) == CPUS, "the queue held jobs back but used both CPUs"
    assert [job.id for job in sorted(jobs, key=lambda job: job.record.started_at)] == [job.id for job in jobs]


def test_a_queued_job_says_what_it_waits_for(hubml_home, monkeypatch, tmp_path):
    from hubml.client import Client

    monkeypatch.setenv("HUBML_CAPACITY_CPU", "1")
    client = Client()
    gate = tmp_path / "gate"
    holder = client.train(gated_job(gate), name="holder")
    wait_for(lambda: holder.state == "RUNNING", timeout=60, what="the first job running")
    head, behind = client.train("print('head')", name="head"), client.train("print('behind')", name="behind")
    wait_for(lambda: head.record.reason == "queued: waiting for cpu", timeout=60, what="the head of the queue's reason")
    wait_for(lambda: behind.record.reason == "queued: waiting for earlier jobs to start", timeout=60,
             what="the second in the queue's reason")
    assert quota_rows(client)["cpu"]["waiting"] == 2
    # `hubml quota` while the gate holds the queue still (with sixty short jobs it would move under the command).
    quota = subprocess.run([sys.executable, "-m", "hubml.cli", "quota"], capture_output=True, text=True)
    assert quota.returncode == 0, quota.stderr
    cpu_row = next(line.split() for line in quota.stdout.splitlines() if line.startswith("cpu "))
    assert cpu_row[:3] == ["cpu", "1", "1"] and cpu_row[4] == "2", quota.stdout
    queued = next(line for line in quota.stdout.splitlines() if "queued" in line)
    assert queued.startswith("2 jobs queued: ") and sorted(queued.split(": ", 1)[1].split(", ")) == [
        "1 waiting for cpu", "1 waiting for earlier jobs to start"], quota.stdout
    gate.touch()
    assert [job.wait(timeout=60).state for job in (holder, head, behind)] == ["SUCCEEDED"] * 3
    assert head.record.reason == "" and quota_rows(client)["cpu"] == {
        "resource": "cpu", "used": 0.0, "limit": 1.0, "source": "local capacity", "waiting": 0}


def test_defaults_of_zero_hold_nothing_back(hubml_home, monkeypatch, tmp_path):
    """The old behaviour, by the setting's 0: jobs that name nothing demand nothing, and all run at once."""
    from hubml.client import Client

    for name, value in (("CAPACITY_CPU", "1"), ("DEFAULT_CPU", "0"), ("DEFAULT_MEMORY", "0")):
        monkeypatch.setenv(f"HUBML_{name}", value)
    client = Client()
    gate = tmp_path / "gate"
    jobs = [client.train(gated_job(gate), name=f"free-{number}") for number in range(3)]
    wait_for(lambda: all(job.state == "RUNNING" for job in jobs), timeout=60, what="all three running at once")
    assert quota_rows(client)["cpu"]["used"] == 0
    gate.touch()
    assert [job.wait(timeout=60).state for job in jobs] == ["SUCCEEDED"] * 3


def test_a_job_of_more_replicas_than_cpus_still_runs_on_the_default(hubml_home, monkeypatch):
    """Defaults shape the queue but never make a job impossible: three replicas on one CPU run, alone."""
    from hubml.client import Client

    monkeypatch.setenv("HUBML_CAPACITY_CPU", "1")
    job = Client().train("import os\nprint(os.environ['TF_CONFIG'])", name="wide", chief=True, workers=2)
    assert job.wait(timeout=120).state == "SUCCEEDED"
    assert os.path.exists(os.path.join(Client().backend.job_dir(job.id), "logs", "attempt-1", "worker-1.log"))
