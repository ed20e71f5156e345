"""`JobWidget`: a job's state badge, progress, metric curves, log tail, Cancel and Deploy.

Built on a live `Job` handle; it polls the handle (never a backend) until the
job is final. Logs are read incrementally with the handle's resume cursor, so
each refresh costs only the lines written since the last one.
"""
from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import ipywidgets

from hubml.backends.base import JobRecord
from hubml.extension.widgets.base import POLL_SECONDS, HandleWidget, pre, title_html
from hubml.extension.widgets.plot import charts_row, line_chart
from hubml.handles.job import LOG_TAIL_LINES
from hubml.progress import HIDDEN, progress_line

if TYPE_CHECKING:
    from hubml.handles.endpoint import Endpoint
    from hubml.handles.job import Job


class JobWidget(HandleWidget):
    def __init__(self, job: Job, interval: float = POLL_SECONDS, log_lines: int = LOG_TAIL_LINES):
        self.job = job
        self.header = ipywidgets.HTML()
        self.progress = ipywidgets.IntProgress(value=0, min=0, max=1, bar_style="info",
                                               layout=ipywidgets.Layout(width="60%"))
        self.progress_text = ipywidgets.Label()
        self.curves = ipywidgets.HTML()
        self.log_view = ipywidgets.HTML()
        self.cancel_button = ipywidgets.Button(description="Cancel", icon="stop", button_style="danger")
        self.deploy_button = ipywidgets.Button(description="Deploy", icon="rocket", button_style="success",
                                               layout=ipywidgets.Layout(display="none"))
        self.cancel_button.on_click(lambda button: self.act(button, self._cancel))
        self.deploy_button.on_click(lambda button: self.act(button, self._deploy))
        self.endpoint: Endpoint | None = None  # once the Deploy button deployed the model
        self._log_tail: deque[str] = deque(maxlen=log_lines)
        self._log_cursor: dict | None = None
        self._metric_count = -1
        super().__init__([
            self.header,
            ipywidgets.HBox([self.progress, self.progress_text]),
            self.curves,
            self.log_view,
            ipywidgets.HBox([self.cancel_button, self.deploy_button]),
        ], interval=interval)

    @property
    def state(self) -> str:
        return self.job.state

    def refresh(self) -> bool:
        # The record is read before the logs: once it says final, every line has been written.
        record = self.job.record
        self.header.value = title_html(record.name, record.id, record.state, record.reason)
        self._read_logs()
        self._draw_metrics(self.job.metrics(), record)
        self._show_buttons(record)
        return not record.final

    def _read_logs(self) -> None:
        fresh = False
        for line in self.job.logs(cursor=self._log_cursor):
            self._log_tail.append(str(line))
            self._log_cursor = line.cursor
            fresh = True
        if fresh or not self.log_view.value:
            self.log_view.value = pre("\n".join(self._log_tail) or "(no log lines yet)")

    def _draw_metrics(self, metrics: list[dict[str, Any]], record: JobRecord) -> None:
        if len(metrics) != self._metric_count:
            self._metric_count = len(metrics)
            self.curves.value = curves(metrics)
            self.progress_text.value = progress_line(metrics[-1]) if metrics else ""
        value, total = progress_of(metrics)
        # Without a total (steps only) a bar would lie: the text line says how far the job got.
        self.progress.layout.display = "" if total else "none"
        if total:
            self.progress.max = total
            self.progress.value = total if record.state == "SUCCEEDED" else min(value, total)
        self.progress.bar_style = {"SUCCEEDED": "success", "FAILED": "danger", "CANCELLED": "warning"}.get(
            record.state, "info")

    def _show_buttons(self, record: JobRecord) -> None:
        self.cancel_button.layout.display = "none" if record.final else ""
        exported = record.state == "SUCCEEDED" and self.job.model is not None
        self.deploy_button.layout.display = "" if exported else "none"

    def _cancel(self) -> str:
        return f"{self.job.cancel().id} {self.job.state}"

    def _deploy(self) -> str:
        from hubml.extension.widgets.endpoint import EndpointWidget

        model = self.job.model
        self.endpoint = self.job.deploy(name=model["model"])
        self.children = (*self.children, EndpointWidget(self.endpoint))  # its try-it box, right here
        return f"deployed {model['model']} version {model['version']}"


def progress_of(metrics: list[dict[str, Any]]) -> tuple[int, int | None]:
    """(done, total) from the latest metric that says so: epochs when reported, else steps with no total."""
    for record in reversed(metrics):
        if record.get("epoch") is not None:
            return int(record["epoch"]), (int(record["epochs"]) if record.get("epochs") else None)
        if record.get("step") is not None:
            return int(record["step"]), None
    return 0, None


def curves(metrics: list[dict[str, Any]]) -> str:
    """One small chart per reported numeric metric, against the step (else epoch, else report number)."""
    series: dict[str, list[tuple[float, float]]] = {}
    for number, record in enumerate(metrics, start=1):
        x = record.get("step", record.get("epoch", number))
        for name, value in record.items():
            if name not in HIDDEN and isinstance(value, (int, float)) and not isinstance(value, bool):
                series.setdefault(name, []).append((x, value))
    return charts_row([line_chart(name, points) for name, points in series.items()]) if series else ""
