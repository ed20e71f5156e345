"""`SweepWidget`: a sweep's state, its trials as a table sortable by objective, and objective by trial.

It polls the `Sweep` handle until the sweep is final; the best trial is
marked in the table and circled on the plot.
"""
from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets

from hubml.extension.widgets.base import POLL_SECONDS, HandleWidget, badge, title_html
from hubml.extension.widgets.plot import line_chart

if TYPE_CHECKING:
    from hubml.handles.sweep import Sweep

SORT_OPTIONS = {"trial number": "trial", "objective, best first": "objective"}


class SweepWidget(HandleWidget):
    def __init__(self, sweep: Sweep, interval: float = POLL_SECONDS):
        self.sweep = sweep
        self.header = ipywidgets.HTML()
        self.sort = ipywidgets.ToggleButtons(options=list(SORT_OPTIONS), description="Sort by")
        self.table = ipywidgets.HTML()
        self.plot = ipywidgets.HTML()
        self._data: dict[str, Any] | None = None
        self.sort.observe(lambda change: self._draw_table(), names="value")
        super().__init__([self.header, ipywidgets.HBox([self.plot]), self.sort, self.table], interval=interval)

    def refresh(self) -> bool:
        data = self.sweep.to_json()
        self._data = data
        finished = sum(trial["state"] not in ("PENDING", "RUNNING") for trial in data["trials"])
        self.header.value = (title_html(data["name"], data["id"], data["state"], data["reason"])
                             + f" {finished}/{len(data['trials'])} trials finished")
        self._draw_table()
        best = best_trial(data)
        points = [(trial["number"], trial["objective"]) for trial in data["trials"] if trial["objective"] is not None]
        self.plot.value = line_chart(f"{data['spec']['objective']} by trial", points, markers=True,
                                     highlight=(best["number"], best["objective"]) if best else None)
        return data["state"] not in ("SUCCEEDED", "FAILED", "CANCELLED")

    def _draw_table(self) -> None:
        if self._data is not None:
            self.table.value = trials_table(self._data, SORT_OPTIONS[self.sort.value])


def best_trial(data: dict[str, Any]) -> dict[str, Any] | None:
    return next((trial for trial in data["trials"] if trial["number"] == data["best"]), None)


def sorted_trials(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """Trials by number, or by objective best first (trials without one last)."""
    trials = data["trials"]
    if key == "trial":
        return sorted(trials, key=lambda trial: trial["number"])
    sign = -1 if data["spec"]["direction"] == "maximize" else 1
    return sorted(trials, key=lambda trial: (trial["objective"] is None, sign * (trial["objective"] or 0)))


def trials_table(data: dict[str, Any], key: str) -> str:
    names = sorted({name for trial in data["trials"] for name in trial["params"]})
    objective = data["spec"]["objective"]
    head = "".join(f"<th>{html.escape(name)}</th>" for name in ["trial", *names, "state", objective, "epoch", "job"])
    rows = []
    for trial in sorted_trials(data, key):
        cells = [trial["number"], *(trial["params"].get(name) for name in names)]
        value = "" if trial["objective"] is None else f"{trial['objective']:.4g}"
        marker = ' style="font-weight:bold"' if trial["number"] == data["best"] else ""
        rows.append(f'<tr class="trial"{marker}>' + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in cells)
                    + f"<td>{badge(trial['state'])}</td><td>{value}</td><td>{trial['step'] or ''}</td>"
                    f"<td><code>{html.escape(trial['job_id'] or '')}</code></td></tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
