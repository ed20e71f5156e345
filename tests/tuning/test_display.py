"""How a sweep shows itself, from a hand-made record: summary, trials table, progress lines, plot."""
import sys

import pytest

from hubml.specs import TrainSpec
from hubml.tuning.records import SweepBook, SweepRecord, TrialRecord
from hubml.tuning.spec import TuneSpec
from hubml.tuning.text import progress_lines, summary, sweeps_table, trials_table


def record(trials) -> SweepRecord:
    spec = TuneSpec(template=TrainSpec(name="demo", code="pass"), params=["lr=loguniform(1e-4, 1)"],
                    objective="val_accuracy", trials=4).validate()
    return SweepRecord(id="demo-abc123", name="demo", user="me", spec=spec.to_dict(), state="RUNNING",
                       started_at=100.0, trials=trials)


def finished() -> list[TrialRecord]:
    return [
        TrialRecord(0, {"lr": 0.01}, "demo-t0-aaaaaa", "SUCCEEDED", 0.91, [[1, 0.8], [2, 0.91]], "", 1.0, 5.0),
        TrialRecord(1, {"lr": 0.0001}, "demo-t1-bbbbbb", "PRUNED", None, [[1, 0.5], [2, 0.52]],
                    "stopped early at epoch 2", 1.0, 3.0),
        TrialRecord(2, {"lr": 0.9}, "demo-t2-cccccc", "FAILED", None, [[1, None]], "worker-0 exited with code 1",
                    5.0, 6.0),
        TrialRecord(3, {"lr": 0.05}, "demo-t3-dddddd", "RUNNING", None, [[1, 0.85]], "", 6.0, None),
    ]


def test_summary_and_tables_name_the_best_trial_and_every_state():
    sweep = record(finished())
    assert summary(sweep) == ("Sweep demo-abc123 RUNNING: 3/4 trials done (1 running, 1 pruned, 1 failed) · "
                              "best val_accuracy 0.91 (trial 0: lr=0.01)")
    lines = trials_table(sweep).splitlines()
    assert lines[0].split() == ["TRIAL", "lr", "STATE", "VAL_ACCURACY", "EPOCH", "DURATION", "JOB", "REASON"]
    assert lines[2].split()[:6] == ["1", "0.0001", "PRUNED", "-", "2", "2.0s"]
    assert "demo-abc123" in sweeps_table([sweep]) and "0.91 (trial 0)" in sweeps_table([sweep])


def test_progress_lines_report_each_change_once():
    trial = TrialRecord(0, {"lr": 0.01}, "demo-t0-aaaaaa", "PENDING", reason="queued: waiting for cpu")
    sweep, seen = record([trial]), {}
    assert summary(sweep).startswith("Sweep demo-abc123 RUNNING: 0/4 trials done (1 queued)")
    assert progress_lines(seen, sweep) == ["[trial 0] queued as job demo-t0-aaaaaa: lr=0.01 (waiting for cpu)"]
    trial.state, trial.reason, trial.curve = "RUNNING", "", [[1, 0.8]]
    assert progress_lines(seen, sweep) == ["[trial 0] started as job demo-t0-aaaaaa: lr=0.01",
                                           "[trial 0] epoch 1: val_accuracy 0.8"]
    assert progress_lines(seen, sweep) == []
    trial.curve.append([2, 0.3])
    trial.state, trial.reason = "PRUNED", "stopped early at epoch 2"
    assert progress_lines(seen, sweep) == ["[trial 0] PRUNED: stopped early at epoch 2"]


def test_plot_draws_each_curve_and_falls_back_to_text_without_matplotlib(client, monkeypatch, capsys):
    from hubml.handles.sweep import Sweep

    stored = record(finished())
    stored.state = "SUCCEEDED"
    sweep = Sweep(client, SweepBook(client.settings.home).put(stored))
    figure = sweep.plot()
    curves, results = figure.axes
    assert [line.get_linestyle() for line in curves.lines] == ["-", "--", "-"]  # the failed trial drew no point
    assert results.get_ylabel() == "val_accuracy"

    monkeypatch.delitem(sys.modules, "hubml.tuning.plot")
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    text = sweep.plot()
    assert text.startswith("TRIAL") and text in capsys.readouterr().out


def test_best_follows_the_direction():
    sweep = record(finished())
    assert sweep.best().number == 0
    sweep.spec["direction"] = "minimize"
    sweep.trials.append(TrialRecord(4, {"lr": 0.2}, "demo-t4-eeeeee", "SUCCEEDED", 0.6))
    assert sweep.best().number == 4
    assert record([]).best() is None


def test_json_model_round_trips():
    sweep = record(finished())
    model = sweep.to_json()
    assert model["best"] == 0 and model["trials"][1]["step"] == 2 and model["trials"][0]["duration"] == 4.0
    assert SweepRecord.from_json(model) == sweep


@pytest.mark.parametrize("state, final", [("RUNNING", False), ("SUCCEEDED", True), ("CANCELLED", True)])
def test_final_states(state, final):
    sweep = record([])
    sweep.state = state
    assert sweep.final is final
