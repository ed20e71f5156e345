"""`hubml jobs`: the same options as %%train, exit code 2 for bad input, JSON output."""
import json
import subprocess
import sys

import pytest
from wait_helpers import wait_for


def hubml(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hubml.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


@pytest.mark.parametrize("args, message", [
    (["--bogus", "train.py"], "unrecognized arguments: --bogus"),
    (["--workers", "-1", "train.py"], "--workers: -1 must be a whole number >= 0"),
    (["--hparam", "lr", "train.py"], "--hparam: 'lr' has no '='"),
    (["train.py", "--files", "missing.csv"], "--files: 'missing.csv' does not exist"),
    (["--package", "."], "--package: needs --module"),
    (["missing.py"], "'missing.py' is not a file"),
    ([], "give a SCRIPT to run, --package DIR --module pkg.mod, or --zoo RECIPE"),
])
def test_bad_submit_exits_2_and_submits_nothing(hubml_home, tmp_path, args, message):
    (tmp_path / "train.py").write_text("print('never runs')\n")
    result = hubml("jobs", "submit", *args, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr
    assert json.loads(hubml("jobs", "list", "--output", "json").stdout) == []


def test_submit_follow_describe_logs_cancel(hubml_home, tmp_path):
    (tmp_path / "train.py").write_text("import hubml\nprint('lr', lr)\nhubml.report(step=1, epoch=1, epochs=1, loss=0.5)\n")
    result = hubml("jobs", "submit", "train.py", "--hparam", "lr=0.1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "[worker-0] lr 0.1" in result.stdout and "[progress] epoch 1/1 · loss 0.5" in result.stdout
    job_id = result.stdout.split()[1]
    described = json.loads(hubml("jobs", "describe", job_id, "--output", "json").stdout)
    assert described["state"] == "SUCCEEDED" and described["spec"]["hparams"] == {"lr": 0.1}
    assert "[worker-0] lr 0.1" in hubml("jobs", "logs", job_id).stdout
    detached = hubml("jobs", "submit", "train.py", "--hparam", "lr=1", "--detach", "--name", "sleepy", cwd=tmp_path)
    sleeper = detached.stdout.split()[1]
    assert hubml("jobs", "cancel", sleeper).stdout.strip() in (f"{sleeper} CANCELLED", f"{sleeper} SUCCEEDED")
    assert hubml("jobs", "describe", "no-such-job-000000").returncode == 2


def test_a_jobs_name_works_wherever_its_id_does(hubml_home, tmp_path):
    """describe, logs and cancel take the name a job was submitted under: its newest job."""
    (tmp_path / "train.py").write_text("import time\nprint('sleeps', seconds, flush=True)\ntime.sleep(seconds)\n")
    assert hubml("jobs", "submit", "train.py", "--name", "nightly", "--hparam", "seconds=0", cwd=tmp_path).returncode == 0
    newest = hubml("jobs", "submit", "train.py", "--name", "nightly", "--hparam", "seconds=120", "--detach",
                   cwd=tmp_path).stdout.split()[1]
    assert json.loads(hubml("jobs", "describe", "nightly", "--output", "json").stdout)["id"] == newest
    wait_for(lambda: "[worker-0] sleeps 120" in hubml("jobs", "logs", "nightly").stdout, timeout=60,
             what="the newest job's log line", interval=0.5)
    assert hubml("jobs", "cancel", "nightly").stdout.strip() == f"{newest} CANCELLED"
    unknown = hubml("jobs", "describe", "never-submitted")
    assert unknown.returncode == 2 and "no job named 'never-submitted'" in unknown.stderr
