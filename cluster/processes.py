"""The cluster's processes: started detached, recorded by PID, stopped by PID.

Each component runs in a session of its own (it outlives `make cluster` and
the pytest run that started it), logs to `.cluster/logs/<name>.log`, and is
recorded in `.cluster/pids/<name>.pid` with the command line it was started
with, so that stopping never signals a recycled PID.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable

from cluster.layout import state

STOP_GRACE_SECONDS = 15.0


class ComponentFailed(RuntimeError):
    """A component exited or never became ready; the message ends with its log's tail."""


def pid_file(name: str) -> Path:
    return state("pids", f"{name}.pid")


def log_file(name: str) -> Path:
    return state("logs", f"{name}.log")


def start(name: str, command: list[str], environment: dict[str, str] | None = None) -> int:
    """Start `command` detached unless `name` already runs; return its PID."""
    pid = running(name)
    if pid:
        return pid
    with open(log_file(name), "ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, close_fds=True,
                                   env={**os.environ, **(environment or {})})
    pid_file(name).write_text(json.dumps({"pid": process.pid, "command": command}))
    return process.pid


def running(name: str) -> int | None:
    """The PID of `name` if the recorded process is alive and still the one started; else None."""
    path = pid_file(name)
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    try:
        with open(f"/proc/{record['pid']}/cmdline", "rb") as handle:
            started = [part.decode() for part in handle.read().split(b"\0")[:-1]]
        with open(f"/proc/{record['pid']}/stat") as handle:
            zombie = handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return None
    # Right after start() the kernel may still be loading the binary: the new program's arguments are not
    # set yet and read as empty (a large binary on a busy machine shows it).
    return None if zombie or started not in (record["command"], []) else record["pid"]


def stop(name: str, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM the component's whole session, then SIGKILL what is left after `grace`."""
    pid = running(name)
    if pid:
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while running(name) and time.monotonic() < deadline:
            time.sleep(0.1)
        _signal_group(pid, signal.SIGKILL)
        while running(name):
            time.sleep(0.05)
    pid_file(name).unlink(missing_ok=True)


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def wait_until(name: str, ready: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait for `ready()`; fail at once if the component exits, with its log's tail in the message."""
    deadline = time.monotonic() + timeout
    while True:
        if ready():
            return
        if not running(name):
            raise ComponentFailed(f"{name} exited before {what}:\n{log_tail(name)}")
        if time.monotonic() > deadline:
            raise ComponentFailed(f"{name}: {what} did not happen within {timeout:g} s:\n{log_tail(name)}")
        time.sleep(0.2)


def log_tail(name: str, lines: int = 25) -> str:
    path = log_file(name)
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
