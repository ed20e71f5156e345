"""Attempts and outcomes of a job whose replicas run apart (Kubernetes pods), kept in the job's storage folder.

`--retries` means the same on every backend: an attempt runs every replica;
when one fails for a reason that is not the code's own (killed, out of memory,
its pod deleted or evicted, its node lost), every replica starts over as the
next attempt and resumes from the job's checkpoints; a code error fails the job
at once. The local supervisor sees all of its replicas and decides this alone.
Pods see only themselves, so they agree through three kinds of marker:

    jobs/{id}/attempts/{n}/started/{role}-{index}   a replica joined attempt n
    jobs/{id}/attempts/{n}/lost                     attempt n is over: who was lost, and why
    jobs/{id}/outcome.json                          the job is decided: state, exit code, reason

Each replica's output is stored too, at the end of its attempt, in the local backend's layout
(`jobs/{id}/logs/attempt-{n}/{role}-{index}.log`), so a job's logs outlive its pods.

The current attempt is the first without a `lost` marker. No replica starts
its code before every replica has joined the attempt: addresses stay the same
from one attempt to the next, and a replacement that started at once could
reach a peer of the lost attempt that is still stopping (the Job controller
replaces a pod only once it has ended), fail on it, and be taken for a code
error. A replica that finds
its own `started` marker in it is a replacement whose predecessor ended without
a word (its container killed), so it marks that attempt lost before joining the
next. Every replica watches for `lost` and then stops, so the Job controller
starts them all again; and for `outcome.json`, after which those that never end
by themselves (the ps, and the workers when there is a chief) stop with success.
The outcome outlives the Jobs, so a job's state can be read with no client
having watched it run.
"""
from __future__ import annotations

import json
import time

from hubml import storage


class JobFolder:
    def __init__(self, job_url: str):
        self.url = job_url

    # --- attempts ----------------------------------------------------------------------

    def current_attempt(self) -> int:
        attempt = 1
        while storage.exists(self._lost(attempt)):
            attempt += 1
        return attempt

    def join(self, replica: str) -> int:
        """The attempt this replica takes part in, recorded as started."""
        attempt = self.current_attempt()
        if storage.exists(self._started(attempt, replica)):
            self.mark_lost(attempt, replica, "ended without a word (its container was killed or its node lost)")
            attempt += 1
        storage.write_text(self._started(attempt, replica), json.dumps({"at": time.time()}))
        return attempt

    def absent(self, attempt: int, replicas: list[str]) -> list[str]:
        """Those of `replicas` that have not joined `attempt` yet."""
        return [replica for replica in replicas if not storage.exists(self._started(attempt, replica))]

    def mark_lost(self, attempt: int, replica: str, why: str) -> None:
        if not storage.exists(self._lost(attempt)):
            storage.write_text(self._lost(attempt), json.dumps({"replica": replica, "reason": why, "at": time.time()}))

    def log_url(self, attempt: int, replica: str) -> str:
        return storage.join(self.url, "logs", f"attempt-{attempt}", f"{replica}.log")

    def lost(self, attempt: int) -> dict | None:
        """Who ended `attempt`, and why; None while it runs."""
        try:
            return json.loads(storage.read_text(self._lost(attempt)))
        except FileNotFoundError:
            return None

    def _lost(self, attempt: int) -> str:
        return storage.join(self.url, "attempts", str(attempt), "lost")

    def _started(self, attempt: int, replica: str) -> str:
        return storage.join(self.url, "attempts", str(attempt), "started", replica)

    # --- the outcome -------------------------------------------------------------------

    def decide(self, state: str, exit_code: int, reason: str, replica: str, attempt: int) -> None:
        """Record the job's end (the first replica to decide wins)."""
        if not storage.exists(self.outcome_url):
            storage.write_text(self.outcome_url, json.dumps({
                "state": state, "exit_code": exit_code, "reason": reason, "replica": replica, "attempt": attempt,
                "finished_at": time.time()}))

    def outcome(self) -> dict | None:
        try:
            return json.loads(storage.read_text(self.outcome_url))
        except FileNotFoundError:
            return None

    @property
    def outcome_url(self) -> str:
        return storage.join(self.url, "outcome.json")
