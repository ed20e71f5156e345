"""Sweeps on the local backend with real trial jobs: early stopping, --max-failed, --parallel,
reattaching, cancelling, and a driver that dies."""
import json
import os
import signal
import subprocess
import sys

import pytest
from wait_helpers import wait_for

from hubml.exceptions import SweepFailed
from hubml.specs import TrainSpec
from hubml.tuning.records import SweepBook
from hubml.tuning.spec import SWEEP_LABEL, TRIAL_LABEL, TuneSpec

from wait_helpers import wait_for

GOOD_RATES = (2.0, 1.0)
BAD_RATES = (1e-5, 2e-5, 3e-5, 5e-5)


def tune(name: str, code: str, params: list[str], **options) -> TuneSpec:
    fields = dict(objective="val_accuracy", algorithm="grid", seed=0)
    return TuneSpec(template=TrainSpec(name=name, code=code), params=params, **{**fields, **options})


@pytest.mark.parametrize("early_stopping", ["median", "hyperband"])
def test_early_stopping_prunes_clearly_bad_trials_before_their_last_epoch(client, logistic, max_concurrent,
                                                                         early_stopping):
    epochs = 6
    rates = ", ".join(map(repr, GOOD_RATES + BAD_RATES))
    sweep = client.tune(tune("prune", logistic(epochs, 0.5), [f"lr=choice({rates})"], objective="val_loss",
                             parallel=2, early_stopping=early_stopping))
    sweep.wait(timeout=120)

    trials = sweep.record.trials
    pruned = [trial for trial in trials if trial.state == "PRUNED"]
    if early_stopping == "median":  # (Hyperband's brackets follow a hash of the trial number: it may prune none)
        assert pruned, sweep
    for trial in pruned:
        assert trial.params["lr"] in BAD_RATES  # only clearly bad trials are stopped
        assert trial.step < epochs and trial.objective is None
        job = client.job(trial.job_id)
        assert job.state == "CANCELLED"  # its job was ended, freeing its resources
        assert max(metric["epoch"] for metric in job.metrics()) < epochs
    assert all(trial.state == "SUCCEEDED" for trial in trials if trial.params["lr"] in GOOD_RATES)
    assert not any(trial.state == "FAILED" for trial in trials)
    assert sweep.best.params["lr"] in GOOD_RATES and sweep.best.objective < 0.2
    assert max_concurrent(client, sweep) == 2


def test_failed_trials_count_towards_max_failed(client, max_concurrent):
    code = ("import hubml\n"
            "if n % 2:\n    raise RuntimeError(f'diverged with n={n}')\n"
            "hubml.report(step=1, epoch=1, val_accuracy=n / 10)\n")
    sweep = client.tune(tune("failing", code, ["n=choice(0, 1, 2, 3, 4, 5)"], max_failed=2))
    with pytest.raises(SweepFailed, match="2 trials failed \\(--max-failed 2\\)"):
        sweep.wait(timeout=120)

    trials = sweep.record.trials
    failed = [trial for trial in trials if trial.state == "FAILED"]
    assert [trial.params["n"] % 2 for trial in failed] == [1, 1]
    assert all("worker-0 exited with code 1" in trial.reason for trial in failed)
    assert trials[-1].state == "FAILED" and len(trials) < 6  # nothing started after the second failure
    assert all(trial.state == "SUCCEEDED" for trial in trials if trial.params["n"] % 2 == 0)
    assert sweep.state == "FAILED" and max_concurrent(client, sweep) == 1
    assert "diverged with n=" in client.job(failed[0].job_id).log_tail()


def test_trials_are_jobs_labelled_with_the_sweep_and_bound_to_their_parameters(client):
    code = "import hubml\nprint('units', units, 'act', act)\nhubml.report(step=1, val_loss=units / 100)\n"
    sweep = client.tune(tune("labels", code, ["units=choice(8, 16)", "act=choice('relu', 'tanh')"],
                             objective="val_loss", parallel=3)).wait(timeout=120)
    assert len(sweep.record.trials) == 4 and sweep.best.params["units"] == 8
    for trial in sweep.record.trials:
        job = client.job(trial.job_id)
        assert job.spec.labels == {SWEEP_LABEL: sweep.id, TRIAL_LABEL: str(trial.number)}
        assert job.spec.hparams == trial.params
        assert f"units {trial.params['units']} act {trial.params['act']}" in job.log_tail()
    frame = sweep.trials
    assert list(frame.columns) == ["units", "act", "state", "val_loss", "epoch", "duration", "job", "reason"]
    assert frame["val_loss"].min() == pytest.approx(0.08) and (frame["state"] == "SUCCEEDED").all()


def test_trials_beyond_the_machines_capacity_wait_queued_not_running(client, monkeypatch, tmp_path, max_concurrent):
    """--parallel 4 on a capacity of 2 CPUs (the default request is 1 each): two run, two say what they wait for."""
    monkeypatch.setenv("HUBML_CAPACITY_CPU", "2")
    gate = tmp_path / "gate"
    code = (f"import os, time, hubml\nwhile not os.path.exists({str(gate)!r}):\n    time.sleep(0.05)\n"
            "hubml.report(step=1, val_loss=n)\n")
    sweep = client.tune(tune("capacity", code, ["n=choice(1, 2, 3, 4)"], objective="val_loss", parallel=4))

    def states() -> list[tuple[str, str]]:
        return sorted((trial.state, trial.reason) for trial in sweep.record.trials)

    wait_for(lambda: states() == [("PENDING", "queued: waiting for cpu"),
                                  ("PENDING", "queued: waiting for earlier jobs to start"),
                                  ("RUNNING", ""), ("RUNNING", "")], timeout=60,
             what="two trials running, and two queued saying what for")
    assert "(2 running, 2 queued)" in repr(sweep).splitlines()[0]
    gate.touch()
    sweep.wait(timeout=120)
    assert sweep.state == "SUCCEEDED" and sweep.best.params["n"] == 1
    assert max_concurrent(client, sweep) == 2


def test_sweep_outlives_the_process_that_started_it_and_is_reattached_by_id(hubml_home, client, logistic,
                                                                            tmp_path):
    script = tmp_path / "train.py"
    script.write_text(logistic(3, 0.2))
    started = subprocess.run(
        [sys.executable, "-m", "hubml.cli", "tune", "submit", str(script), "--objective", "val_accuracy",
         "--param", "lr=loguniform(1e-3, 1)", "--trials", "3", "--parallel", "2", "--detach", "--name", "cli"],
        capture_output=True, text=True, timeout=60)
    assert started.returncode == 0, started.stderr
    sweep_id = started.stdout.split("Started sweep ")[1].split()[0]

    sweep = client.sweep(sweep_id).wait(timeout=120)  # the submitting process is gone
    assert sweep.state == "SUCCEEDED" and len(sweep.record.trials) == 3
    listed = subprocess.run([sys.executable, "-m", "hubml.cli", "tune", "list", "--output", "json"],
                            capture_output=True, text=True, timeout=60)
    (model,) = json.loads(listed.stdout)
    assert (model["id"], model["state"], len(model["trials"])) == (sweep_id, "SUCCEEDED", 3)
    assert model["best"] == sweep.best.number and model["trials"][0]["job_id"] == sweep.record.trials[0].job_id
    listed = subprocess.run([sys.executable, "-m", "hubml.cli", "tune", "describe", sweep_id],
                            capture_output=True, text=True, timeout=60)
    assert f"Sweep {sweep_id} SUCCEEDED: 3/3 trials done" in listed.stdout
    assert sweep.record.trials[0].job_id in listed.stdout


def test_cancel_ends_the_driver_and_every_running_trial(client):
    sweep = client.tune(tune("cancel", "import time\ntime.sleep(120)\n", ["n=choice(1, 2, 3)"], parallel=2))
    wait_for(lambda: sum(trial.state == "RUNNING" for trial in sweep.record.trials) == 2, timeout=120,
             what="two trials running")
    pid = sweep.record.driver_pid
    cancelled = subprocess.run([sys.executable, "-m", "hubml.cli", "tune", "cancel", sweep.id], capture_output=True,
                               text=True, timeout=60)
    assert cancelled.stdout.strip() == f"{sweep.id} CANCELLED", cancelled.stderr
    assert sweep.state == "CANCELLED" and sweep.record.reason == "cancelled by user"
    assert [trial.state for trial in sweep.record.trials] == ["CANCELLED", "CANCELLED"]
    assert all(client.job(trial.job_id).state == "CANCELLED" for trial in sweep.record.trials)
    assert not _alive(pid)


def test_a_lost_driver_is_reported_and_its_trials_can_still_be_cancelled(client):
    sweep = client.tune(tune("lost", "import time\ntime.sleep(120)\n", ["n=choice(1, 2)"]))
    wait_for(lambda: sweep.record.trials and sweep.record.trials[0].state == "RUNNING", timeout=120,
             what="the first trial running")
    os.kill(sweep.record.driver_pid, signal.SIGKILL)
    wait_for(lambda: sweep.done, timeout=10, what="the sweep to notice its lost driver")
    assert (sweep.state, sweep.record.reason) == ("FAILED", "the sweep's driver process was lost")
    job = client.job(sweep.record.trials[0].job_id)
    assert job.state == "RUNNING"
    sweep.cancel()
    assert job.state == "CANCELLED" and sweep.state == "CANCELLED"


def test_unknown_sweeps_and_bad_ids(client):
    from hubml.exceptions import NotFound

    with pytest.raises(NotFound, match="no sweep named 'nope-123456'"):
        client.sweep("nope-123456")
    with pytest.raises(Exception, match="is not a sweep id"):
        client.sweep("../etc")
    assert SweepBook(client.settings.home).all() == []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("extra, message", [
    ([], "give a SCRIPT to run, --package DIR --module pkg.mod, or --zoo RECIPE"),
    (["train.py", "--zoo", "dense-classifier"], "give a SCRIPT or --zoo, not both"),
    (["missing.py"], "'missing.py' is not a file"),
    (["--zoo", "dense-classifier", "--param", "lr=loguniform(0, 1)"], "--param: lr: loguniform(low, high) needs"),
])
def test_cli_submit_refuses_bad_input_with_exit_code_2(client, capsys, tmp_path, extra, message):
    from hubml.cli import main

    (tmp_path / "train.py").write_text("print(1)\n")
    params = [] if "--param" in extra else ["--param", "units=choice(8, 16)"]
    assert main(["tune", "submit", "--objective", "val_loss", *params, *extra]) == 2
    assert message in capsys.readouterr().err
    assert client.sweeps() == []
