"""One detached supervisor per local job: `python -m hubml.backends.local.supervisor HOME JOB_ID`.

It is started in a session of its own, so the job outlives the kernel or
command that submitted it. It waits for its turn in the capacity queue, starts
every replica (`python -m hubml.runtime`) with `TF_CONFIG` on free loopback
ports, and decides the job as TFJob does: the chief (or worker 0) ends it; a
replica that fails ends the attempt. Each replica's memory limit (its
`--memory`, else the default) is enforced by `memory_limits.py`; a replica past
it is a lost attempt. Attempts are retried per the spec, the timeout covers the
whole job, and SIGTERM (cancel) ends every replica.

Imports stay at the standard library and small hubml modules: its start-up is
part of every job's overhead.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from hubml import storage
from hubml.backends.local.memory_limits import CgroupUnavailable, Enforcement, MemoryLimit, remove_leftovers
from hubml.backends.local.store import LOST_SUPERVISOR, Store
from hubml.formatting import memory_size
from hubml.processes import die_with_parent, free_ports, supervisor_alive
from hubml.runtime.retries import is_code_error
from hubml.tfconfig import cluster_spec, decider, replica_names, tf_config

POLL_SECONDS = 0.02
QUEUE_POLL_SECONDS = 0.2
LOST_CHECK_SECONDS = 2.0
STOP_GRACE_SECONDS = 5.0
PEER_GRACE_SECONDS = 60.0


@dataclass
class Outcome:
    state: str
    exit_code: int | None
    reason: str
    retryable: bool = True


class Cancelled(Exception):
    pass


class Supervisor:
    def __init__(self, home: str, job_id: str):
        self.store = Store(home)
        self.job = self.store.job(job_id)
        self.spec = self.job["spec"]
        self.job_id = job_id
        self.job_url = os.environ["HUBML_JOB_URL"]
        self.local_dir = os.environ["HUBML_JOB_DIR"]
        self.replicas = {"chief": int(self.spec["chief"]), "worker": self.spec["workers"], "ps": self.spec["ps"]}
        self.deadline: float | None = None
        self.devices: list[int] = []
        self.replica_memory = int(os.environ.get("HUBML_REPLICA_MEMORY") or 0)
        self.enforcement = Enforcement(os.environ.get("HUBML_MEMORY_ENFORCEMENT") or "auto")
        self.limits: dict[tuple[str, int], MemoryLimit] = {}
        signal.signal(signal.SIGTERM, self._on_sigterm)

    def run(self) -> Outcome:
        try:
            self._wait_for_capacity()
            if self.spec.get("timeout"):
                self.deadline = time.time() + self.spec["timeout"]
            outcome = self._run_attempts()
        except Cancelled:
            outcome = Outcome("CANCELLED", None, "cancelled by user")
        self._sync_logs()  # before the final state: whoever sees the job end finds its logs in storage
        self.store.update_job(self.job_id, state=outcome.state, exit_code=outcome.exit_code,
                              reason=outcome.reason, finished_at=time.time())
        return outcome

    def _wait_for_capacity(self) -> None:
        """Wait in the FIFO queue; the record's reason says what for while it waits."""
        capacity = json.loads(os.environ["HUBML_CAPACITY"])
        said = ""
        next_check = time.monotonic() + LOST_CHECK_SECONDS
        while True:
            admission = self.store.admit(self.job_id, capacity)
            if admission.devices is not None:
                self.devices = admission.devices
                return
            if admission.waiting_for != said:
                said = admission.waiting_for
                self.store.update_job(self.job_id, reason=f"queued: waiting for {said}")
                print(f"{self.job_id} queued: waiting for {said}", flush=True)
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + LOST_CHECK_SECONDS
                self._fail_lost_jobs()
            time.sleep(QUEUE_POLL_SECONDS)

    def _fail_lost_jobs(self) -> None:
        """A job whose supervisor died without a word (SIGKILL, a reboot) would keep its place in the queue,
        or its capacity, until someone read its record: the queue says so itself."""
        for row in self.store.jobs(states=("PENDING", "RUNNING")):
            pid = row["supervisor_pid"]
            if row["id"] != self.job_id and pid and not supervisor_alive(pid, row["id"]):
                self.store.update_job(row["id"], state="FAILED", reason=LOST_SUPERVISOR, finished_at=time.time())
                remove_leftovers(row["id"])

    def _run_attempts(self) -> Outcome:
        attempts = self.spec.get("retries", 0) + 1
        for attempt in range(1, attempts + 1):
            self.store.update_job(self.job_id, attempt=attempt)
            outcome = self._run_attempt(attempt)
            if outcome.state == "SUCCEEDED" or not outcome.retryable:
                return outcome
            if attempt < attempts:
                print(f"attempt {attempt} failed ({outcome.reason}); retrying", flush=True)
                self._sync_logs()
        if attempts > 1:
            outcome.reason += f" (after {attempts} attempts)"
        return outcome

    def _run_attempt(self, attempt: int) -> Outcome:
        ports = free_ports(sum(self.replicas.values()))
        names = replica_names(self.replicas)
        address = {name: f"127.0.0.1:{port}" for name, port in zip(names, ports)}
        cluster = cluster_spec(self.replicas, lambda role, index: address[(role, index)])
        log_dir = os.path.join(self.local_dir, "logs", f"attempt-{attempt}")
        os.makedirs(log_dir, exist_ok=True)
        processes: dict[tuple[str, int], subprocess.Popen] = {}
        try:
            for name in names:
                processes[name] = self._start_replica(name, attempt, cluster, log_dir)
            return self._watch(processes)
        except CgroupUnavailable as error:
            return Outcome("FAILED", None, f"memory_enforcement is 'cgroup', but {error}", retryable=False)
        finally:
            stop_all(processes)
            for limit in self.limits.values():
                limit.release()
            self.limits = {}

    def _start_replica(self, name: tuple[str, int], attempt: int, cluster: dict, log_dir: str) -> subprocess.Popen:
        role, index = name
        environment = {**os.environ, "HUBML_ATTEMPT": str(attempt), "PYTHONUNBUFFERED": "1"}
        environment.pop("TF_CONFIG", None)
        if sum(self.replicas.values()) > 1:
            environment["TF_CONFIG"] = tf_config(cluster, role, index)
        # Each replica sees only its own share of the job's GPUs, and a job that asked for none sees none.
        per_replica = self.spec["resources"].get("gpus") or 0
        position = replica_names(self.replicas).index(name)
        share = self.devices[position * per_replica:(position + 1) * per_replica]
        environment["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, share))
        if not storage.is_local(self.job_url):
            environment["HUBML_WORKDIR"] = os.path.join(self.local_dir, "work", f"{role}-{index}")
        environment.update(self.spec.get("env") or {})
        limit = self._memory_limit(name, attempt)

        def in_child() -> None:
            die_with_parent()
            limit.enter()

        log = open(os.path.join(log_dir, f"{role}-{index}.log"), "ab")
        try:
            process = subprocess.Popen([sys.executable, "-m", "hubml.runtime"], env=environment, stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=in_child)
        finally:
            log.close()
        limit.started(process.pid)
        return process

    def _memory_limit(self, name: tuple[str, int], attempt: int) -> MemoryLimit:
        role, index = name
        limit = self.enforcement.limit_for(f"hubml-{self.job_id}-{attempt}-{role}-{index}", self.replica_memory)
        self.limits[name] = limit
        if limit.limit:
            fallback = f" (no cgroup: {self.enforcement.fallback})" if self.enforcement.fallback else ""
            print(f"{role}-{index}: memory limit {memory_size(limit.limit)} enforced by {limit.where}{fallback}",
                  flush=True)
        return limit

    def _watch(self, processes: dict[tuple[str, int], subprocess.Popen]) -> Outcome:
        deciding = decider(self.replicas)
        decided_at: float | None = None
        while True:
            if self.deadline and time.time() > self.deadline:
                return Outcome("FAILED", None, f"timed out after {self.spec['timeout']:g} s", retryable=False)
            codes = {name: process.poll() for name, process in processes.items()}
            exceeded = self._over_memory(codes)
            if exceeded:
                return exceeded
            if decided_at is None:
                for (role, index), code in codes.items():
                    if code not in (None, 0):
                        return Outcome("FAILED", code, f"{role}-{index} {describe_exit(code)}",
                                       retryable=not is_code_error(code))
                if codes[deciding] == 0:
                    decided_at = time.time()
            if decided_at is not None:
                # As TFJob: with a chief, the others are done once it is; without one, workers may finish.
                peers = [name for name, code in codes.items()
                         if code is None and name[0] == "worker" and not self.replicas["chief"]]
                if not peers or time.time() - decided_at > PEER_GRACE_SECONDS:
                    return Outcome("SUCCEEDED", 0, "")
            time.sleep(POLL_SECONDS)

    def _over_memory(self, codes: dict[tuple[str, int], int | None]) -> Outcome | None:
        """A replica past its memory limit, stopped: a lost attempt (retried per `--retries`)."""
        for name, code in codes.items():
            limit = self.limits[name]
            if code is not None:
                limit.ended()
            if code == 0 or not limit.exceeded():
                continue
            limit.stop()
            role, index = name
            return Outcome("FAILED", code, f"{role}-{index} exceeded its memory limit of {memory_size(limit.limit)}")
        return None

    def _sync_logs(self) -> None:
        if not storage.is_local(self.job_url):
            storage.upload(os.path.join(self.local_dir, "logs"), storage.join(self.job_url, "logs"))

    def _on_sigterm(self, signum: int, frame: object) -> None:
        raise Cancelled()


def stop_all(processes: dict[tuple[str, int], subprocess.Popen]) -> None:
    """SIGTERM every replica still running, then SIGKILL what is left after a grace period."""
    running = [process for process in processes.values() if process.poll() is None]
    for process in running:
        process.terminate()
    deadline = time.time() + STOP_GRACE_SECONDS
    for process in running:
        try:
            process.wait(max(0.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def describe_exit(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def main(argv: list[str]) -> int:
    home, job_id = argv
    outcome = Supervisor(home, job_id).run()
    print(f"{job_id} {outcome.state} {outcome.reason}".rstrip(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
