"""What `hubml.report` records, also as TensorBoard scalars, so a job's TensorBoard shows it with no callback.

Each report becomes one event (one scalar per numeric metric, tagged by its
name, at the report's step) in an events file directly under
`HUBML_TENSORBOARD_DIR`. The job's TensorBoard therefore shows the job itself
as a run (a sweep's shows each trial as a run named by its parameters), beside
any `train/` and `validation/` runs a user's own `keras.callbacks.TensorBoard`
writes there. Like the metrics file, only the deciding replica's folder is the
job's: the others write to their scratch folder, so a job's scalars are
written once, not once per worker.

Events are written with TensorBoard's own record framing and protos, which do
not import TensorFlow, and flushed at every report so a TensorBoard that is
already open shows each point as it is recorded.
"""
from __future__ import annotations

import importlib.util
import os
import socket
import threading
import time
from numbers import Number
from typing import Any

from hubml.progress import HIDDEN as NOT_SCALARS  # bookkeeping, not curves: when, how far along, out of how many

_lock = threading.Lock()
_writers: dict[str, _EventsFile] = {}


class _EventsFile:
    """One `events.out.tfevents.*` file, opened lazily, appended to and flushed per event."""

    def __init__(self, folder: str):
        from tensorboard.compat.proto import event_pb2
        from tensorboard.summary.writer.record_writer import RecordWriter

        os.makedirs(folder, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}.hubml"
        self._event_pb2 = event_pb2
        self._records = RecordWriter(open(os.path.join(folder, name), "ab"))
        self.reports = 0
        self._write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))

    def add_scalars(self, step: int, wall_time: float, scalars: dict[str, float]) -> None:
        from tensorboard.compat.proto import summary_pb2

        values = [summary_pb2.Summary.Value(tag=tag, simple_value=value) for tag, value in scalars.items()]
        self._write(self._event_pb2.Event(wall_time=wall_time, step=step, summary=summary_pb2.Summary(value=values)))

    def _write(self, event: Any) -> None:
        self._records.write(event.SerializeToString())
        self._records.flush()


def scalars_of(record: dict[str, Any]) -> dict[str, float]:
    """The record's finite numbers worth a curve (booleans and bookkeeping fields are not)."""
    return {name: float(value) for name, value in record.items()
            if name not in NOT_SCALARS and isinstance(value, Number) and not isinstance(value, bool)}


def write(record: dict[str, Any]) -> None:
    """Append `record`'s scalars to this process's events file in `HUBML_TENSORBOARD_DIR`, if set.

    A record without a step is placed at the count of reports so far, so its curve still runs left to right.
    """
    folder = os.environ.get("HUBML_TENSORBOARD_DIR")
    if not folder or importlib.util.find_spec("tensorboard") is None:
        return  # no TensorBoard to show them (hubml without its tensorflow extra): the metrics file has them
    with _lock:
        writer = _writers.get(folder)
        if writer is None:
            writer = _writers[folder] = _EventsFile(folder)
        writer.reports += 1
        scalars = scalars_of(record)
        if scalars:
            writer.add_scalars(record.get("step", writer.reports), record["time"], scalars)
