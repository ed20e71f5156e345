"""Plain-text tables for terminals, papermill output and `%jobs`."""
from __future__ import annotations

import datetime
from typing import Any, Sequence


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(value) for value in row] for row in rows]
    widths = [max(len(header), *(len(row[i]) for row in cells)) if cells else len(header)
              for i, header in enumerate(headers)]
    lines = ["  ".join(header.ljust(width) for header, width in zip(headers, widths)).rstrip()]
    lines += ["  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def timestamp(seconds: float | None) -> str:
    return datetime.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S") if seconds else "-"


def duration(seconds: float | None) -> str:
    return f"{seconds:.1f}s" if seconds is not None else "-"


def memory_size(size: float) -> str:
    """Bytes in the largest binary unit that keeps a number above one: '2 GiB', '200 MiB', '1.5 GiB'."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size:g} B"


def jobs_table(records: Sequence[Any]) -> str:
    """One row per `JobRecord`."""
    rows = [(r.id, r.state, r.attempt, _replicas(r.spec), timestamp(r.submitted_at), duration(r.duration),
             r.reason) for r in records]
    return table(["JOB", "STATE", "ATTEMPT", "REPLICAS", "SUBMITTED", "DURATION", "REASON"], rows)


def _replicas(spec: dict) -> str:
    counts = {"chief": int(spec.get("chief", False)), "worker": spec.get("workers", 1), "ps": spec.get("ps", 0)}
    return ",".join(f"{role}:{n}" for role, n in counts.items() if n)


def endpoints_table(records: Sequence[dict]) -> str:
    """One row per endpoint record."""
    rows = [(r["name"], r["state"], r["model"], ",".join(str(v) for v in r["versions"]) or "-", r["rest_url"] or "-",
             r["grpc_target"] or "-", timestamp(r["created_at"])) for r in records]
    return table(["ENDPOINT", "STATE", "MODEL", "VERSIONS", "REST", "GRPC", "CREATED"], rows)


def fields_text(record: dict[str, Any]) -> str:
    """`  key: value` lines, for `describe` commands."""
    return "\n".join(f"  {key}: {value}" for key, value in record.items())
