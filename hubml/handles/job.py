"""The `Job` handle: status, wait, logs (follow), metrics, cancel, the exported model."""
from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Any, Iterator, TextIO

from hubml.backends.base import JobRecord, LogLine
from hubml.exceptions import JobFailed
from hubml.handles.base import Handle
from hubml.follow import FollowBook
from hubml.progress import progress_line
from hubml.quiet_tensorflow import info_wanted, is_start_up_chatter
from hubml.specs import TrainSpec

if TYPE_CHECKING:
    from hubml.handles.endpoint import Endpoint
    from hubml.tensorboard import TensorBoard

LOG_TAIL_LINES = 20


class Job(Handle):
    @property
    def spec(self) -> TrainSpec:
        return TrainSpec.from_dict(self._record.spec)

    def _fetch(self) -> JobRecord:
        return self.client.backend.job(self.id)

    @property
    def model(self) -> dict[str, Any] | None:
        """{'model', 'version', 'uri'} of the SavedModel this job exported, once it has."""
        return self.client.backend.exported_model(self.id)

    def deploy(self, **options: Any) -> Endpoint:
        """Serve the model this job exported: `Client.deploy(job, **options)`."""
        return self.client.deploy(self, **options)

    def tensorboard(self) -> TensorBoard:
        """Start (or find) TensorBoard on this job's HUBML_TENSORBOARD_DIR; see `hubml.tensorboard`."""
        from hubml.tensorboard import for_job

        return for_job(self.client, self.id)

    def logs(self, follow: bool = False, cursor: dict | None = None, resume: bool = False) -> Iterator[LogLine]:
        """Every replica's lines after `cursor`; with `follow`, until the job is final.

        A follow records how far it got (`hubml.follow`); with `resume` it starts
        where the last follow of this job stopped, in whatever process that was
        (a killed kernel or CLI), so no line is lost or shown twice.
        """
        book = FollowBook(self.client.settings.home)
        if resume:
            cursor = book.load(self.id)
        lines = self.client.backend.logs(self.id, follow=follow, cursor=cursor)
        # The level the job ran with: a local job inherits the submitter's environment, then its own env.
        gpu_expected, wants_info = bool(self.spec.resources.gpus), info_wanted({**os.environ, **self.spec.env})
        lines = (line for line in lines if not is_start_up_chatter(line.text, gpu_expected, wants_info))
        return book.recorded(self.id, lines) if follow else lines

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(str(line) for line in list(self.logs())[-lines:])

    def metrics(self) -> list[dict[str, Any]]:
        return self.client.backend.metrics(self.id)

    def cancel(self) -> Job:
        self._record = self.client.backend.cancel(self.id)
        return self

    def wait(self, timeout: float | None = None, raise_on_failure: bool = True) -> Job:
        """Block until the job is final; raise `JobFailed` (with the log's tail) unless it succeeded."""
        deadline = None if timeout is None else time.time() + timeout
        while not self.done:
            if deadline is not None and time.time() > deadline:
                raise TimeoutError(f"job {self.id} still {self.state} after {timeout} s")
            time.sleep(0.02)
        return self._check(raise_on_failure)

    def follow(self, out: TextIO | None = None, raise_on_failure: bool = True, resume: bool = False,
               prefixed: bool = True) -> Job:
        """Print every replica's log lines as they come, and a progress line per new metric, until final.

        With `resume`, start after the last line an earlier follow showed (see `logs`). Lines carry their
        replica (`[worker-0] ...`) unless `prefixed` is False (a notebook run, whose one replica is the kernel).
        """
        out = out or sys.stdout
        seen_metrics = 0
        attempt = 1
        for line in self.logs(follow=True, resume=resume):
            if line.attempt != attempt:
                attempt = line.attempt
                print(f"--- attempt {attempt} ---", file=out)
            print(line if prefixed else line.text, file=out, flush=True)
            seen_metrics = self._print_progress(out, seen_metrics)
        self._print_progress(out, seen_metrics)
        return self._check(raise_on_failure)

    def follow_or_cancel(self, prefixed: bool = True, widget: bool = False) -> bool:
        """`follow`, but an interrupt cancels the job rather than leaving it running unseen; False then.

        With `widget` (a notebook a person watches), the job's live widget is shown at once and updates itself
        while this waits, instead of the log streaming as text; a failure raises without the log repeated.
        """
        try:
            if widget:
                from hubml.extension.display import show_live

                widget = show_live(self)
                self.wait(raise_on_failure=False)
                widget.refresh()  # its final state, before the cell ends
                self._check(raise_on_failure=True, log_shown=True)
            else:
                self.follow(prefixed=prefixed)
        except KeyboardInterrupt:
            self.cancel()
            print(f"Interrupted: cancelled job {self.id} ({self.state}).", flush=True)
            return False
        return True

    def _print_progress(self, out: TextIO, seen: int) -> int:
        metrics = self.metrics()
        if len(metrics) > seen:
            print(progress_line(metrics[-1]), file=out, flush=True)
        return len(metrics)

    def _check(self, raise_on_failure: bool, log_shown: bool = False) -> Job:
        """Raise `JobFailed` unless the job succeeded; with the log's tail, unless a live widget shows it
        (the traceback is then shown once, in the widget, not again in the error). Text follows keep the tail:
        under papermill the error is what a failed run reports."""
        record = self.record
        if raise_on_failure and record.state != "SUCCEEDED":
            raise JobFailed(self.id, record.state, record.reason, "" if log_shown else self.log_tail())
        return self

    def to_json(self) -> dict[str, Any]:
        """The JSON model the server extension and the sidebar share."""
        return {**self.record.to_json(), "model": self.model}

    def __repr__(self) -> str:
        record = self.record
        text = f"Job {self.id} {record.state}"
        if record.reason:
            text += f" ({record.reason})"
        if record.duration is not None:
            text += f" after {record.duration:.1f} s"
        model = self.model if record.state == "SUCCEEDED" else None
        return text + (f"; model {model['model']} version {model['version']} at {model['uri']}" if model else "")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    # --- rich display: a live widget in a notebook, plain text under papermill and in a terminal ---

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from hubml.extension.display import mimebundle

        return mimebundle(self)

