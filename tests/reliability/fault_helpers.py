"""Helpers for the fault tests: finding a job's replica processes, reading a process's output live."""
from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from wait_helpers import wait_for

HUBML = [sys.executable, "-m", "hubml.cli"]  # the `hubml` command, in whatever environment runs the tests


def replica_pids(job_id: str, attempt: int) -> list[int]:
    """Live `python -m hubml.runtime` processes of this job's attempt, found through /proc."""
    wanted = (f"HUBML_JOB_ID={job_id}".encode(), f"HUBML_ATTEMPT={attempt}".encode())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if b"hubml.runtime" not in (entry / "cmdline").read_bytes():
                continue
            environment = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if all(item in environment for item in wanted):
            found.append(int(entry.name))
    return found


class OutputReader:
    """Collects a process's stdout lines on a thread, so a test can wait for one without blocking."""

    def __init__(self, process: subprocess.Popen):
        self.process = process
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, text: str, timeout: float) -> None:
        wait_for(lambda: text in self.lines or self.process.poll() is not None and not self.thread.is_alive(),
                 timeout, f"{text!r} in the output")
        assert text in self.lines, f"the process ended without printing {text!r}:\n" + "\n".join(self.lines)

    def finish(self, timeout: float) -> list[str]:
        """Every line, once the process has ended (killed or exited) and its pipe is drained."""
        self.process.wait(timeout)
        self.thread.join(timeout)
        return self.lines
