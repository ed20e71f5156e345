"""`python -m hubml.runtime.k8s_entry`: one replica in a Kubernetes pod, supervised from inside the pod.

The Kubernetes backend runs each role as an Indexed Job. A pod knows its role
(`HUBML_ROLE`, one per Job), its index (`JOB_COMPLETION_INDEX`, set by the
Job controller) and the cluster every replica shares (`HUBML_TF_CLUSTER`, the
same JSON in every pod); this builds `TF_CONFIG` from the three, then runs
`hubml.runtime` as a child, exactly as on any backend.

It also does in the pod what TFJob's operator and the local supervisor do from
outside, so that nothing depends on a client watching (hubml/runtime/attempts.py):
it joins the current attempt, starts the code once every replica has joined
it, ends its replica when the attempt is lost elsewhere or the job is decided,
tells a lost replica from a code error, records the job's outcome, and stores
the replica's log with the job. Its exit code tells the Job's pod failure
policy what happened:

    0                     done (or the job was decided elsewhere)
    1, 3                  a code error or failed requirements: the job fails at once (FailJob)
    75 (EX_TEMPFAIL)      the attempt was lost elsewhere: start over, counted against --retries
    128 + signal, other   this replica was lost (killed, out of memory, its pod stopped): start over
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import IO

from hubml import storage
from hubml.runtime.attempts import JobFolder
from hubml.runtime.retries import EXIT_ATTEMPT_LOST, is_code_error
from hubml.tfconfig import decider, replica_names, tf_config

STOP_GRACE_SECONDS = 20.0


def tf_config_from_pod(environ: dict[str, str]) -> str | None:
    """TF_CONFIG for this pod, or None for a single-replica job (as on the local backend)."""
    cluster = environ.get("HUBML_TF_CLUSTER")
    if not cluster:
        return None
    return tf_config(json.loads(cluster), environ["HUBML_ROLE"], int(environ.get("JOB_COMPLETION_INDEX", "0")))


def waits_for_decider(cluster: dict[str, list[str]], role: str) -> bool:
    return role == "ps" or (role == "worker" and "chief" in cluster)


def poll_seconds() -> float:
    return float(os.environ.get("HUBML_OUTCOME_POLL_SECONDS", "2"))


def peer_loss_grace_seconds() -> float:
    """How long a replica whose code failed waits to learn that a lost peer made it fail: a peer marks the
    attempt lost before its process ends, or within a poll of its process being killed."""
    return float(os.environ.get("HUBML_PEER_LOSS_GRACE_SECONDS", "10"))


class ReplicaSupervisor:
    def __init__(self, environ: dict[str, str]):
        config = tf_config_from_pod(environ)
        self.cluster = json.loads(config)["cluster"] if config else {environ.get("HUBML_ROLE", "worker"): ["-"]}
        self.role = environ.get("HUBML_ROLE", "worker")
        self.index = int(environ.get("JOB_COMPLETION_INDEX", "0"))
        self.name = f"{self.role}-{self.index}"
        self.distributed = config is not None
        self.replicas = {role: len(hosts) for role, hosts in self.cluster.items()}
        self.decides = (self.role, self.index) == decider(self.replicas)
        self.folder = JobFolder(environ["HUBML_JOB_URL"])
        self.environment = dict(environ, **({"TF_CONFIG": config} if config else {}))
        self.attempt = 0
        self.child: subprocess.Popen | None = None
        self.log = tempfile.TemporaryFile()
        self._writing = threading.RLock()  # re-entered when SIGTERM arrives while the main thread writes
        self._copier: threading.Thread | None = None

    def run(self) -> int:
        self.attempt = self.folder.join(self.name)
        self.environment["HUBML_ATTEMPT"] = str(self.attempt)
        signal.signal(signal.SIGTERM, self._stopped)
        stop = self._wait_for_peers()
        if stop is not None:
            return stop
        self.child = subprocess.Popen([sys.executable, "-m", "hubml.runtime"], env=self.environment,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._copier = threading.Thread(target=self._copy_output, args=(self.child.stdout,), daemon=True)
        self._copier.start()
        while (code := self.child.poll()) is None:
            time.sleep(poll_seconds())
            stop = self._reason_to_stop()
            if stop is not None:
                self._end_child()
                return stop
        self.store_log()  # before the outcome: whoever sees the job end finds this replica's whole log
        return self._ended(code)

    def _wait_for_peers(self) -> int | None:
        """Until every replica has joined this attempt (hubml/runtime/attempts.py says why); an exit code if
        the attempt or the job ends meanwhile."""
        absent = self.folder.absent(self.attempt, [f"{role}-{index}" for role, index in replica_names(self.replicas)])
        if absent:
            self._say(f"[hubml] attempt {self.attempt}: waiting for {', '.join(absent)} to join")
        while absent:
            time.sleep(poll_seconds())
            stop = self._reason_to_stop()
            if stop is not None:
                return stop
            absent = self.folder.absent(self.attempt, absent)
        return None

    def _reason_to_stop(self) -> int | None:
        """An exit code if this replica must stop although it still runs, else None."""
        lost = self.folder.lost(self.attempt)
        if lost is not None:
            self._say(f"[hubml] attempt {self.attempt} was lost ({lost['replica']} {lost['reason']}); "
                      "stopping so that every replica starts over")
            return EXIT_ATTEMPT_LOST
        outcome = self.folder.outcome()
        if outcome is not None and (waits_for_decider(self.cluster, self.role) or outcome["state"] != "SUCCEEDED"):
            self._say(f"[hubml] the job is decided ({outcome['replica']}: {outcome['state']}); stopping")
            return 0
        return None

    def _ended(self, code: int) -> int:
        if code == 0:
            if self.decides:
                self.folder.decide("SUCCEEDED", 0, "", self.name, self.attempt)
            return 0
        if is_code_error(code):
            if self.distributed and self._peer_was_lost():
                return EXIT_ATTEMPT_LOST
            self.folder.decide("FAILED", code, f"{self.name} exited with code {code}", self.name, self.attempt)
            return code
        why = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
        self.folder.mark_lost(self.attempt, self.name, why)
        return 128 - code if code < 0 else code

    def _copy_output(self, output: IO[bytes]) -> None:
        """The replica's output to the pod's log (what `kubectl logs` and hubml follow) and to a file."""
        for line in iter(output.readline, b""):
            self._write(line)

    def _say(self, text: str) -> None:
        self._write(f"{text}\n".encode())

    def _write(self, line: bytes) -> None:
        with self._writing:
            sys.stdout.buffer.write(line)
            sys.stdout.buffer.flush()
            if not self.log.closed:
                self.log.write(line)

    def store_log(self) -> None:
        """Store what the replica wrote with the job, so its logs outlive the pod."""
        if self.attempt == 0 or self.log.closed:
            return
        if self._copier is not None:
            self._copier.join(STOP_GRACE_SECONDS)
        with self._writing:
            self.log.seek(0)
            text = self.log.read().decode(errors="replace")
            self.log.close()
        storage.write_text(self.folder.log_url(self.attempt, self.name), text)

    def _peer_was_lost(self) -> bool:
        deadline = time.monotonic() + peer_loss_grace_seconds()
        while time.monotonic() < deadline:
            if self.folder.lost(self.attempt) is not None:
                return True
            time.sleep(poll_seconds())
        return False

    def _stopped(self, signum: int, frame: object) -> None:
        """The pod is being stopped (deleted, evicted, its Job ended): the attempt is lost, unless the job is over."""
        if self.folder.outcome() is None:
            self.folder.mark_lost(self.attempt, self.name, "was stopped (its pod deleted or evicted)")
        self._end_child()
        sys.exit(128 + signum)

    def _end_child(self) -> None:
        if self.child is None or self.child.poll() is not None:
            return
        # Not SIGTERM: TensorFlow's preemption notifier catches it under MultiWorkerMirroredStrategy, and the
        # replica would train on (hubml.runtime handles SIGINT as it handles SIGTERM).
        self.child.send_signal(signal.SIGINT)
        try:
            self.child.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self.child.kill()
            self.child.wait()


def main() -> int:
    supervisor = ReplicaSupervisor(dict(os.environ))
    try:
        return supervisor.run()
    finally:  # also when the pod is stopped (SIGTERM ends run() with SystemExit)
        supervisor.store_log()


if __name__ == "__main__":
    sys.exit(main())
