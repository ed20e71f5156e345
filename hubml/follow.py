"""Where the last log follow of a job stopped, so another process can pick it up.

A kernel or a `hubml jobs logs -f` that follows a job records, after each line
it has shown, the line's `LogLine.cursor` under `HUBML_HOME/follow/<job>.json`.
When that process is killed, the job goes on (its supervisor is detached); a
new kernel or command that resumes the follow starts right after the last line
shown, so no line is lost or printed twice.
"""
from __future__ import annotations

import json
import os
from typing import Iterator

from hubml.backends.base import LogLine, check_id


class FollowBook:
    def __init__(self, home: str):
        self.folder = os.path.join(home, "follow")

    def path(self, job_id: str) -> str:
        return os.path.join(self.folder, f"{check_id(job_id)}.json")

    def load(self, job_id: str) -> dict | None:
        """The cursor after the last line a follow of this job showed, or None if none was recorded."""
        try:
            with open(self.path(job_id)) as handle:
                cursor = json.load(handle)
        except (FileNotFoundError, ValueError):
            return None
        return cursor if isinstance(cursor, dict) else None

    def save(self, job_id: str, cursor: dict) -> None:
        """Replace the record atomically: a kill mid-write leaves the previous cursor, never half of one."""
        os.makedirs(self.folder, mode=0o700, exist_ok=True)
        path = self.path(job_id)
        partial = f"{path}.{os.getpid()}.tmp"
        with open(partial, "w") as handle:
            json.dump(cursor, handle)
        os.replace(partial, path)

    def recorded(self, job_id: str, lines: Iterator[LogLine]) -> Iterator[LogLine]:
        """Yield each line; once the consumer asks for the next one, the line it got counts as shown."""
        for line in lines:
            yield line
            self.save(job_id, line.cursor)
