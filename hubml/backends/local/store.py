"""The local backend's state: one SQLite database under HUBML_HOME.

Many processes share it (kernels, CLI commands, one supervisor per job), so it
runs in WAL mode with a generous busy timeout, and every state change is a
single conditional UPDATE: a final state is never overwritten.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

FINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
LOST_SUPERVISOR = "the job's supervisor process was lost"
JOB_COLUMNS = ("id", "name", "user", "backend", "spec", "state", "reason", "exit_code", "attempt",
               "submitted_at", "started_at", "finished_at", "supervisor_pid", "demand", "devices")

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    name TEXT NOT NULL,
    user TEXT NOT NULL,
    backend TEXT NOT NULL,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    exit_code INTEGER,
    attempt INTEGER NOT NULL DEFAULT 0,
    submitted_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    supervisor_pid INTEGER,
    demand TEXT NOT NULL DEFAULT '{}',
    devices TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
"""

# PENDING jobs submitted before this one: the queue is first in, first out.
AHEAD_IN_QUEUE = "SELECT COUNT(*) FROM jobs WHERE state = 'PENDING' AND seq < (SELECT seq FROM jobs WHERE id = ?)"


@dataclass(frozen=True)
class Admission:
    devices: list[int] | None  # None: not admitted
    waiting_for: str = ""


class Store:
    def __init__(self, home: str):
        os.makedirs(home, mode=0o700, exist_ok=True)
        self.path = os.path.join(home, "hubml.db")
        db = sqlite3.connect(self.path, timeout=60)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
        finally:
            db.close()

    @contextmanager
    def connect(self, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    # --- jobs ---------------------------------------------------------------------

    def insert_job(self, row: dict[str, Any]) -> None:
        row = {**row, "spec": json.dumps(row["spec"]), "demand": json.dumps(row.get("demand", {}))}
        columns = [c for c in JOB_COLUMNS if c in row]
        with self.connect() as db:
            db.execute(f"INSERT INTO jobs ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                       [row[c] for c in columns])

    def job(self, job_id: str) -> dict[str, Any] | None:
        with self.connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job_row(row) if row else None

    def jobs(self, states: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        query, params = "SELECT * FROM jobs", ()
        if states:
            query += f" WHERE state IN ({', '.join('?' * len(states))})"
            params = states
        with self.connect() as db:
            return [_job_row(row) for row in db.execute(query + " ORDER BY seq", params)]

    def update_job(self, job_id: str, **fields: Any) -> bool:
        """Set fields unless the job is already final; True when the row changed."""
        assignments = ", ".join(f"{name} = ?" for name in fields)
        with self.connect() as db:
            cursor = db.execute(
                f"UPDATE jobs SET {assignments} WHERE id = ? AND state NOT IN ({', '.join('?' * len(FINAL))})",
                [*fields.values(), job_id, *FINAL])
            return cursor.rowcount == 1

    def admit(self, job_id: str, capacity: dict[str, float]) -> Admission:
        """Atomically move a PENDING job to RUNNING when it heads the queue and its demand fits.

        Admitted, it carries the GPU indices given to the job (none when it
        asked for none); else what the job waits for.
        """
        with self.connect() as db:  # a plain read first: only the head of the queue takes the write lock
            if db.execute(AHEAD_IN_QUEUE, (job_id,)).fetchone()[0]:
                return Admission(None, "earlier jobs to start")
        with self.connect(immediate=True) as db:
            if db.execute(AHEAD_IN_QUEUE, (job_id,)).fetchone()[0]:
                return Admission(None, "earlier jobs to start")
            running = [_job_row(row) for row in db.execute("SELECT * FROM jobs WHERE state = 'RUNNING'")]
            demand = json.loads(db.execute("SELECT demand FROM jobs WHERE id = ?", (job_id,)).fetchone()["demand"])
            short = shortfall(demand, running_total(running), capacity)
            if short:
                return Admission(None, " and ".join(short))
            taken = {device for row in running for device in row["devices"]}
            free = [index for index in range(int(capacity.get("gpus", 0))) if index not in taken]
            devices = free[: int(demand.get("gpus", 0))]
            # The time under the lock: no job's start is stamped before the end of the one that made room for it.
            db.execute("UPDATE jobs SET state = 'RUNNING', reason = '', started_at = ?, devices = ? WHERE id = ?",
                       (time.time(), json.dumps(devices), job_id))
            return Admission(devices)

    # --- other objects (endpoints, sweeps): JSON documents by kind and name -------------

    def put(self, kind: str, name: str, data: dict[str, Any]) -> None:
        with self.connect() as db:
            db.execute("INSERT OR REPLACE INTO objects (kind, name, data) VALUES (?, ?, ?)",
                       (kind, name, json.dumps(data)))

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        with self.connect() as db:
            row = db.execute("SELECT data FROM objects WHERE kind = ? AND name = ?", (kind, name)).fetchone()
        return json.loads(row["data"]) if row else None

    def all(self, kind: str) -> list[dict[str, Any]]:
        with self.connect() as db:
            rows = db.execute("SELECT data FROM objects WHERE kind = ? ORDER BY name", (kind,)).fetchall()
        return [json.loads(row["data"]) for row in rows]

    def delete(self, kind: str, name: str) -> bool:
        with self.connect() as db:
            return db.execute("DELETE FROM objects WHERE kind = ? AND name = ?", (kind, name)).rowcount == 1


def running_total(rows: list[dict[str, Any]]) -> dict[str, float]:
    """What the jobs in `rows` hold together, per resource."""
    used: dict[str, float] = {}
    for row in rows:
        for key, value in row["demand"].items():
            used[key] = used.get(key, 0.0) + value
    return used


def shortfall(demand: dict[str, float], used: dict[str, float], capacity: dict[str, float]) -> list[str]:
    """The resources of which `demand` needs more than is free."""
    return [key for key, value in demand.items()
            if value and used.get(key, 0.0) + value > capacity.get(key, 0.0) + 1e-9]


def _job_row(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    data.pop("seq", None)
    data["spec"] = json.loads(data["spec"])
    data["demand"] = json.loads(data["demand"])
    data["devices"] = json.loads(data["devices"])
    return data
