"""One line of progress from a job's latest reported metrics."""
from __future__ import annotations

from typing import Any

HIDDEN = {"time", "step", "epoch", "epochs"}


def progress_line(metrics: dict[str, Any]) -> str:
    parts = []
    if metrics.get("epoch") is not None:
        total = metrics.get("epochs")
        parts.append(f"epoch {metrics['epoch']}/{total}" if total else f"epoch {metrics['epoch']}")
    elif metrics.get("step") is not None:
        parts.append(f"step {metrics['step']}")
    for name, value in metrics.items():
        if name not in HIDDEN:
            parts.append(f"{name} {value:.4g}" if isinstance(value, float) else f"{name} {value}")
    return "[progress] " + " · ".join(parts)
