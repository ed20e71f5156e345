"""Reading and following a job's log files: the local backend's, and those a Kubernetes job's pods stored.

Each replica writes `logs/attempt-{n}/{role}-{index}.log`. A cursor maps each
file to the byte offset already read, so a follow that is interrupted (a
kernel restart, a CLI killed) resumes with no line lost or repeated.
"""
from __future__ import annotations

import os
import re
import time
from typing import Callable, Iterator

from hubml.backends.base import LogLine
from hubml.tfconfig import ROLE_ORDER

FILE_PATTERN = re.compile(r"^(chief|worker|ps)-(\d+)\.log$")
FOLLOW_POLL_SECONDS = 0.02


def log_files(root: str) -> list[tuple[str, int, str, int]]:
    """(key, attempt, role, index) of every log file under root, in attempt then role order."""
    found = []
    for folder in os.listdir(root) if os.path.isdir(root) else []:
        if not folder.startswith("attempt-") or not folder[8:].isdigit():
            continue
        for name in os.listdir(os.path.join(root, folder)):
            match = FILE_PATTERN.match(name)
            if match:
                found.append((f"{folder}/{name}", int(folder[8:]), match.group(1), int(match.group(2))))
    return sorted(found, key=lambda item: (item[1], ROLE_ORDER.index(item[2]), item[3]))


def read_logs(root: str, follow: bool, is_final: Callable[[], bool],
              cursor: dict[str, int] | None = None) -> Iterator[LogLine]:
    offsets = dict(cursor or {})
    while True:
        # Read the state before the files: lines written before the job ended are then always read.
        final = is_final() if follow else True
        for key, attempt, role, index in log_files(root):
            with open(os.path.join(root, key), "rb") as handle:
                handle.seek(offsets.get(key, 0))
                data = handle.read()
            complete = data if final else data[: data.rfind(b"\n") + 1]
            position = offsets.get(key, 0)
            for raw in complete.splitlines(keepends=True):
                position += len(raw)
                offsets[key] = position
                yield LogLine(attempt, role, index, raw.decode(errors="replace").rstrip("\r\n"), dict(offsets))
        if final:
            return
        time.sleep(FOLLOW_POLL_SECONDS)
