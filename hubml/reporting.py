"""`hubml.report(step=..., **metrics)`: record metrics from inside a job.

Each call appends one JSON line to the job's `metrics.jsonl`, which feeds
progress lines, widgets' curves and the tuner's early stopping. Only the
deciding replica (chief, else worker 0) writes to the job's file; the others
write to their scratch folder, so a metric is never counted twice. Outside a
job it records nothing and returns the record, so the same code runs in a
plain notebook. The same numbers become TensorBoard scalars in the job's
`HUBML_TENSORBOARD_DIR` (`hubml.scalars`).
"""
from __future__ import annotations

import json
import math
import os
import time
from numbers import Number
from typing import Any

from hubml import scalars


def report(step: int | None = None, **metrics: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"time": time.time()}
    if step is not None:
        record["step"] = int(step)
    for name, value in metrics.items():
        record[name] = _plain(value)
    path = os.environ.get("HUBML_METRICS_FILE")
    if path:
        with open(path, "a") as handle:
            handle.write(json.dumps(record) + "\n")
        scalars.write(record)
    return record


def _plain(value: Any) -> Any:
    """numpy / TensorFlow scalars to Python numbers; NaN and infinities to None (JSON has neither)."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, Number) and not isinstance(value, bool):
        value = float(value) if not isinstance(value, int) else value
        return None if isinstance(value, float) and not math.isfinite(value) else value
    return value
