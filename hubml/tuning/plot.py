"""A sweep as a matplotlib figure: each trial's learning curve, and the objective by trial."""
from __future__ import annotations

from typing import Any

# Importing pyplot lets a notebook's inline backend register its Figure display (a PNG under the cell); the
# figure itself is made bare, outside pyplot's registry, so it is shown once, as the cell's result, and never
# leaks into later cells. Both imports sit here so a missing matplotlib shows when this module is imported.
import matplotlib.pyplot  # noqa: F401
from matplotlib.figure import Figure

from hubml.tuning.records import PRUNED, SUCCEEDED, SweepRecord

STATE_COLOURS = {SUCCEEDED: "tab:blue", PRUNED: "tab:orange"}
OTHER_COLOUR = "tab:red"


def sweep_figure(record: SweepRecord) -> Figure:
    """Left: the objective per epoch of every trial (pruned ones dashed). Right: each trial's result and
    the best so far."""
    objective = record.spec["objective"]
    figure = Figure(figsize=(11, 4), layout="constrained")
    curves, results = figure.subplots(1, 2)
    for trial in record.trials:
        points = [(step, value) for step, value in trial.curve if value is not None]
        if points:
            steps, values = zip(*points)
            curves.plot(steps, values, linestyle="--" if trial.state == PRUNED else "-", marker=".",
                        color=STATE_COLOURS.get(trial.state, OTHER_COLOUR), alpha=0.8, label=f"trial {trial.number}")
    curves.set(xlabel="epoch", ylabel=objective, title="learning curves (dashed: stopped early)")
    _results(results, record, objective)
    figure.suptitle(f"sweep {record.id} ({record.state})")
    return figure


def _results(axes: Any, record: SweepRecord, objective: str) -> None:
    best_so_far, best = [], None
    pick = max if record.direction == "maximize" else min
    for trial in record.trials:
        value = trial.objective if trial.state == SUCCEEDED else (trial.curve[-1][1] if trial.curve else None)
        if value is not None:
            axes.scatter(trial.number, value, color=STATE_COLOURS.get(trial.state, OTHER_COLOUR), zorder=3)
        if trial.state == SUCCEEDED and trial.objective is not None:
            best = trial.objective if best is None else pick(best, trial.objective)
        best_so_far.append(best)
    axes.step(range(len(best_so_far)), [float("nan") if v is None else v for v in best_so_far], where="post",
              color="black", label="best so far")
    axes.set(xlabel="trial", ylabel=objective, title="objective by trial (orange: last value before stopping)")
    axes.legend(loc="best")
