"""Sweeps as plain text: the summary line, the trials table, and progress lines for `Sweep.follow`."""
from __future__ import annotations

from typing import Any

from hubml.formatting import duration, table, timestamp
from hubml.tuning.records import SweepRecord, TrialRecord


# A PENDING trial's job waits in the backend's queue (for capacity, or on Kubernetes for its pods).
STATE_WORDS = {"PENDING": "queued"}


def number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{name}={number(value)}" for name, value in params.items())


def summary(record: SweepRecord) -> str:
    """'Sweep mnist-3f2a1c RUNNING: 5/12 trials done (2 running, 4 queued, 1 pruned) · best val_accuracy 0.93 (trial 2: ...)'."""
    text = f"Sweep {record.id} {record.state}"
    if record.reason:
        text += f" ({record.reason})"
    counts = [f"{record.count(state)} {STATE_WORDS.get(state, state.lower())}"
              for state in ("RUNNING", "PENDING", "PRUNED", "FAILED") if record.count(state)]
    finished = sum(trial.final for trial in record.trials)
    text += f": {finished}/{record.tune_spec.budget} trials done" + (f" ({', '.join(counts)})" if counts else "")
    best = record.best()
    if best:
        objective = record.spec["objective"]
        text += f" · best {objective} {number(best.objective)} (trial {best.number}: {params_text(best.params)})"
    return text


def sweeps_table(records: list[SweepRecord]) -> str:
    rows = []
    for record in records:
        best = record.best()
        done = sum(trial.final for trial in record.trials)
        rows.append((record.id, record.state, f"{done}/{record.tune_spec.budget}",
                     f"{number(best.objective)} (trial {best.number})" if best else "-",
                     timestamp(record.submitted_at), duration(record.duration), record.reason))
    return table(["SWEEP", "STATE", "TRIALS", "BEST", "SUBMITTED", "DURATION", "REASON"], rows)


def trials_table(record: SweepRecord) -> str:
    names = [param.name for param in record.tune_spec.space]
    rows = [(trial.number, *(number(trial.params.get(name, "-")) for name in names), trial.state,
             number(trial.objective) if trial.objective is not None else "-",
             trial.step if trial.step is not None else "-", duration(trial.duration), trial.job_id or "-",
             trial.reason) for trial in record.trials]
    headers = ["TRIAL", *names, "STATE", record.spec["objective"].upper(), "EPOCH", "DURATION", "JOB", "REASON"]
    return table(headers, rows)


def progress_lines(seen: dict[int, tuple[str, int | None]], record: SweepRecord) -> list[str]:
    """Lines for what changed since `seen` (updated in place): starts, new epochs, ends."""
    lines = []
    for trial in record.trials:
        before = seen.get(trial.number, (None, None))
        now = (trial.state, trial.step)
        if now == before:
            continue
        seen[trial.number] = now
        lines += _trial_lines(trial, before, record.spec["objective"])
    return lines


def _trial_lines(trial: TrialRecord, before: tuple[str | None, int | None], objective: str) -> list[str]:
    lines = []
    as_job = f" as job {trial.job_id}" if trial.job_id else ""
    if trial.state == "PENDING" and before[0] is None:
        waiting = f" ({trial.reason.removeprefix('queued: ')})" if trial.reason else ""
        lines.append(f"[trial {trial.number}] queued{as_job}: {params_text(trial.params)}{waiting}")
    elif trial.state != "PENDING" and before[0] in (None, "PENDING"):
        lines.append(f"[trial {trial.number}] started{as_job}: {params_text(trial.params)}")
    if trial.step is not None and trial.step != before[1] and not trial.final:
        lines.append(f"[trial {trial.number}] epoch {trial.step}: {objective} {number(trial.curve[-1][1])}")
    if trial.final:
        result = f"{objective} {number(trial.objective)}" if trial.objective is not None else trial.reason
        lines.append(f"[trial {trial.number}] {trial.state}" + (f": {result}" if result else ""))
    return lines
