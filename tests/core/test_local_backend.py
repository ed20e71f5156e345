"""The local backend on trivial jobs: states, logs, retries, timeout, cancel, queueing, the contract."""
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
from wait_helpers import wait_for

from hubml.exceptions import InvalidArgument, JobFailed, NotFound


def test_success_logs_metrics_and_hparams(client):
    job = client.train(textwrap.dedent("""
        import json, os, hubml
        print("lr", lr, "units", units)
        print("hparams", os.environ["HUBML_HPARAMS"])
        print("tf_config", os.environ.get("TF_CONFIG"))
        for step in range(3):
            hubml.report(step=step, loss=1.0 / (step + 1))
    """), name="ok", hparams={"lr": 0.5, "units": 8}).wait()
    assert job.state == "SUCCEEDED" and job.record.exit_code == 0
    lines = [str(line) for line in job.logs()]
    assert "[worker-0] lr 0.5 units 8" in lines
    assert '[worker-0] hparams {"lr": 0.5, "units": 8}' in lines
    assert "[worker-0] tf_config None" in lines  # single-replica jobs get no TF_CONFIG
    assert [m["loss"] for m in job.metrics()] == [1.0, 0.5, pytest.approx(1 / 3)]
    assert job.model is None  # nothing exported, and no empty version left behind
    assert os.listdir(client.settings.home + "/storage/models/ok") == []


def test_failure_keeps_traceback_in_log(client):
    job = client.train("def train():\n    raise ValueError('bad learning rate')\ntrain()\n", name="fails")
    with pytest.raises(JobFailed) as error:
        job.wait()
    assert job.state == "FAILED" and job.record.exit_code == 1
    assert "worker-0 exited with code 1" in job.record.reason
    assert "ValueError: bad learning rate" in error.value.log_tail
    assert "in train" in job.log_tail()  # the traceback shows the user's frames


def test_a_lost_attempt_is_retried_and_each_attempt_keeps_its_log(client):
    """Killed by a signal (as for memory, or an evicted pod): the next attempt runs (hubml/runtime/retries.py)."""
    job = client.train(textwrap.dedent("""
        import os, signal
        print('attempt', os.environ['HUBML_ATTEMPT'], flush=True)
        if os.environ['HUBML_ATTEMPT'] != '3':
            os.kill(os.getpid(), signal.SIGKILL)
    """), name="retry", retries=2)
    job.wait()
    assert job.state == "SUCCEEDED" and job.record.attempt == 3
    assert [line.text for line in job.logs() if line.text.startswith("attempt")] == \
        ["attempt 1", "attempt 2", "attempt 3"]
    assert sorted({line.attempt for line in job.logs()}) == [1, 2, 3]
    log_root = os.path.join(client.backend.job_dir(job.id), "logs")
    assert sorted(os.listdir(log_root)) == ["attempt-1", "attempt-2", "attempt-3"]


@pytest.mark.parametrize("failure", ["raise ValueError('bad shape')", "raise SystemExit(3)"])
def test_a_code_error_fails_at_once_whatever_the_retries(client, failure):
    job = client.train(f"print('computing')\n{failure}", name="broken", retries=2)
    job.wait(raise_on_failure=False)
    assert job.state == "FAILED" and job.record.attempt == 1
    assert job.record.reason == f"worker-0 exited with code {job.record.exit_code}"
    assert "computing" in job.log_tail()


def test_timeout_fails_without_retry(client):
    job = client.train("import time\ntime.sleep(60)", name="slow", timeout=1, retries=2)
    job.wait(timeout=30, raise_on_failure=False)
    assert job.state == "FAILED" and job.record.reason.startswith("timed out after 1 s")
    assert job.record.attempt == 1


def test_cancel_ends_every_replica(client):
    job = client.train("import os, time\nprint('pid', os.getpid(), flush=True)\ntime.sleep(120)",
                       name="cancel-me", workers=2, chief=True)
    pids = _wait_for_pids(job, 3)
    job.cancel()
    assert job.state == "CANCELLED" and job.record.reason == "cancelled by user"
    wait_for(lambda: not [pid for pid in pids if _running(pid)], timeout=30, what="every replica to end")


def test_a_jobs_name_finds_its_newest_job_wherever_an_id_does(client):
    client.train("print('first')", name="twice").wait()
    second = client.train("print('second')", name="twice").wait()
    assert client.job("twice").id == second.id
    assert "second" in [line.text for line in client.backend.logs("twice")]
    assert "first" not in [line.text for line in client.backend.logs("twice")]
    running = client.train("import time\ntime.sleep(120)", name="long")
    assert client.cancel("long").id == running.id and running.state == "CANCELLED"
    with pytest.raises(NotFound) as error:
        client.job("never-submitted")
    assert str(error.value) == "no job named 'never-submitted'"


def test_queue_waits_for_capacity(hubml_home, monkeypatch):
    from hubml.client import Client

    monkeypatch.setenv("HUBML_CAPACITY_CPU", "2")
    client = Client()
    code = "import time\ntime.sleep(1.5)"
    jobs = [client.train(code, name=f"queued-{i}", cpu=2) for i in range(3)]
    assert jobs[1].state == "PENDING"
    for job in jobs:
        job.wait(timeout=60)
    spans = sorted((job.record.started_at, job.record.finished_at) for job in jobs)
    assert all(earlier[1] <= later[0] + 0.05 for earlier, later in zip(spans, spans[1:]))  # one at a time, in order
    assert [job.id for job in sorted(jobs, key=lambda j: j.record.started_at)] == [job.id for job in jobs]
    with pytest.raises(InvalidArgument) as error:
        client.train(code, name="too-big", cpu=3)
    assert error.value.argument == "--cpu"


def test_job_outlives_its_submitter_and_is_listed_from_a_fresh_process(hubml_home):
    submitter = "import hubml; print(hubml.Client().train('import time; time.sleep(2); print(\"done\")', name='orphan').id)"
    job_id = subprocess.run([sys.executable, "-c", submitter], check=True, capture_output=True,
                            text=True).stdout.strip()
    from hubml.client import Client

    job = Client().job(job_id)
    assert job.state in ("PENDING", "RUNNING")  # the submitting process is gone; the job is not
    job.wait(timeout=60)
    listing = subprocess.run([sys.executable, "-m", "hubml.cli", "jobs", "list", "--output", "json"],
                             check=True, capture_output=True, text=True).stdout
    assert {"id": job_id, "state": "SUCCEEDED"}.items() <= json.loads(listing)[0].items()


def test_follow_resumes_from_a_cursor_without_loss_or_repeat(client):
    job = client.train("import time\nfor i in range(40):\n    print('line', i, flush=True)\n    time.sleep(0.02)",
                       name="cursor")
    first, cursor = [], None
    for line in job.logs(follow=True):
        first.append(line.text)
        cursor = line.cursor
        if line.text == "line 9":
            break  # the follower goes away mid-job
    rest = [line.text for line in job.logs(follow=True, cursor=cursor)]
    numbered = [text for text in first + rest if text.startswith("line ")]
    assert numbered == [f"line {i}" for i in range(40)]


def test_files_and_package_ship_with_the_job(client, tmp_path):
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    package = tmp_path / "trainer_project"
    (package / "trainer").mkdir(parents=True)
    (package / "setup.py").write_text("from setuptools import setup\nsetup(name='trainer', packages=['trainer'])\n")
    (package / "trainer" / "__init__.py").write_text("")
    (package / "trainer" / "task.py").write_text(
        "import os\nprint('task sees', open('data.csv').read().splitlines()[1], __name__)\n")
    job = client.train(None, name="pkg", package=str(package), module="trainer.task", files=["data.csv"]).wait()
    assert "[worker-0] task sees 1,2 __main__" in [str(line) for line in job.logs()]


def test_requirements_get_a_cached_environment_of_their_own(client, tmp_path):
    (tmp_path / "requirements.txt").write_text("tabulate==0.9.0\n")
    code = "import tabulate, hubml\nprint('tabulate', tabulate.__version__)"
    first = client.train(code, name="reqs", requirements="requirements.txt").wait(timeout=300)
    second = client.train(code, name="reqs", requirements="requirements.txt").wait(timeout=120)
    assert "[worker-0] tabulate 0.9.0" in [str(line) for line in first.logs()]
    assert any("using cached environment" in line.text for line in second.logs())
    with pytest.raises(ImportError):
        __import__("tabulate")  # the notebook's own environment is untouched


def test_unknown_job_and_bad_ids(client):
    with pytest.raises(NotFound):
        client.job("no-such-job-123456")
    with pytest.raises(InvalidArgument):
        client.job("../../etc")


def _wait_for_pids(job, count: int) -> list[int]:
    deadline = time.time() + 60
    while time.time() < deadline:
        pids = [int(line.text.split()[1]) for line in job.logs() if line.text.startswith("pid ")]
        if len(pids) == count:
            return pids
        time.sleep(0.1)
    raise AssertionError(f"replicas did not start: {[str(line) for line in job.logs()]}")


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_gpus_are_given_out_per_replica_and_queue_when_taken(hubml_home, monkeypatch):
    from hubml.client import Client

    monkeypatch.setenv("HUBML_CAPACITY_GPUS", "2")  # the queue's bookkeeping; no GPU is touched
    client = Client()
    show = "import os, time\nprint('devices=' + os.environ['CUDA_VISIBLE_DEVICES'])\ntime.sleep(float(hold))"
    pair = client.train(show, name="two-gpus", workers=2, gpus=1, hparams={"hold": 1.5})
    waiting = client.train(show, name="one-gpu", gpus=1, hparams={"hold": 0})
    none = client.train(show, name="no-gpu", hparams={"hold": 0}).wait(timeout=60)
    for job in (pair, waiting):
        job.wait(timeout=60)
    devices = {(job.name, line.replica): line.text for job in (pair, waiting, none) for line in job.logs()
               if line.text.startswith("devices=")}
    assert devices == {("two-gpus", "worker-0"): "devices=0", ("two-gpus", "worker-1"): "devices=1",
                       ("one-gpu", "worker-0"): "devices=0", ("no-gpu", "worker-0"): "devices="}
    assert waiting.record.started_at >= pair.record.finished_at - 0.05  # it waited for a free GPU


def test_a_chief_only_job_decides_and_exports(client):
    job = client.train("import os\nos.makedirs(os.environ['HUBML_MODEL_DIR'], exist_ok=True)\n"
                       "open(os.path.join(os.environ['HUBML_MODEL_DIR'], 'saved_model.pb'), 'w').close()",
                       name="chief-only", chief=True, workers=0).wait()
    assert job.model["version"] == 1
    assert {line.replica for line in job.logs()} == {"chief-0"}
