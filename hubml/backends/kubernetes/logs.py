"""Every replica's log, prefixed with its role and index, followed across dropped streams.

Logs are read with `timestamps=true`. A cursor keeps, for each pod, the
timestamp (in nanoseconds) of the last line delivered and how many lines
carried exactly that timestamp. A stream that drops, or a follow resumed from
a saved cursor, reconnects with `sinceTime` (whole seconds, as the API takes
it), and the lines it replays are skipped by the timestamp and that count: no
line is lost and none is repeated.

A retried replica is a new pod for the same role and index; its lines come
as the next attempt. Once a job's pods are gone (its Jobs expired), its logs
are read from what each replica stored with the job (hubml/runtime/k8s_entry.py).
"""
from __future__ import annotations

import json
import queue
import tempfile
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from kubernetes.client.exceptions import ApiException

from hubml import storage
from hubml.backends import log_files
from hubml.backends.base import LogLine
from hubml.backends.kubernetes.manifests import INDEX_LABEL, JOB_LABEL, REPLICA_CONTAINER, ROLE_LABEL
from hubml.backends.kubernetes.watch import REQUEST_TIMEOUT, complete_lines, interrupt, release
from hubml.tfconfig import ROLE_ORDER

# How often, before this pod, the Job controller saw its index fail (it writes it with backoffLimitPerIndex).
INDEX_FAILURES_ANNOTATION = "batch.kubernetes.io/job-index-failure-count"
POD_POLL_SECONDS = 1.0
RECONNECT_SECONDS = 0.2
FOLLOW_READ_TIMEOUT = 300


class LogSource:
    """Reads one namespace's pod logs through the official client's ApiClient."""

    def __init__(self, api_client: Any, core: Any, namespace: str):
        self.api_client = api_client
        self.core = core
        self.namespace = namespace

    def replicas(self, job_id: str) -> list[tuple[int, str, int, str]]:
        """(attempt, role, index, pod name) of every pod of a job, in attempt, role and index order."""
        response = self.core.list_namespaced_pod(self.namespace, label_selector=f"{JOB_LABEL}={job_id}",
                                                 _preload_content=False, _request_timeout=REQUEST_TIMEOUT)
        pods = sorted(json.loads(response.data)["items"],
                      key=lambda pod: (pod["metadata"].get("creationTimestamp") or "", pod["metadata"]["name"]))
        attempts: dict[tuple[str, int], int] = {}
        found = []
        for pod in pods:
            labels = pod["metadata"].get("labels") or {}
            role, index = labels.get(ROLE_LABEL, "worker"), int(labels.get(INDEX_LABEL, "0"))
            # Every lost attempt fails each index once (hubml/runtime/retries.py), and the Job controller
            # writes on each pod how often its index failed before: a deleted pod's successor is still
            # attempt 2. Counting the pods listed is the fallback for a controller that writes nothing.
            failures = (pod["metadata"].get("annotations") or {}).get(INDEX_FAILURES_ANNOTATION)
            attempts[role, index] = int(failures) + 1 if failures else attempts.get((role, index), 0) + 1
            found.append((attempts[role, index], role, index, pod["metadata"]["name"]))
        return sorted(found, key=lambda item: (item[0], ROLE_ORDER.index(item[1]), item[2]))

    def open(self, pod: str, follow: bool, since_ns: int) -> Any:
        """The raw log response (`since_ns` rounded down to the second, as `sinceTime` takes it)."""
        query: list[tuple[str, str]] = [("container", REPLICA_CONTAINER), ("timestamps", "true")]
        if follow:
            query.append(("follow", "true"))
        if since_ns:
            since = datetime.fromtimestamp(since_ns // 10**9, tz=timezone.utc)
            query.append(("sinceTime", since.strftime("%Y-%m-%dT%H:%M:%SZ")))
        request = self.api_client.param_serialize(
            "GET", "/api/v1/namespaces/{namespace}/pods/{name}/log",
            path_params={"namespace": self.namespace, "name": pod}, query_params=query,
            header_params={"Accept": "*/*"}, auth_settings=["BearerToken"])
        timeout = (REQUEST_TIMEOUT[0], FOLLOW_READ_TIMEOUT) if follow else REQUEST_TIMEOUT
        response = self.api_client.call_api(*request, _request_timeout=timeout)
        if not 200 <= response.status <= 299:
            response.read()
            raise ApiException.from_response(http_resp=response, body=None, data=None)
        return response.response

    def terminated(self, pod: str) -> bool:
        """True once the replica container has ended (or the pod is gone): its log is complete."""
        try:
            response = self.core.read_namespaced_pod(pod, self.namespace, _preload_content=False,
                                                     _request_timeout=REQUEST_TIMEOUT)
        except ApiException as error:
            if error.status == 404:
                return True
            raise
        status = json.loads(response.data).get("status") or {}
        if status.get("phase") in ("Succeeded", "Failed"):
            return True
        return any(each.get("name") == REPLICA_CONTAINER and "terminated" in (each.get("state") or {})
                   for each in status.get("containerStatuses") or [])


def new_lines(raw_lines: Iterator[str], position: list[int]) -> Iterator[tuple[str, list[int]]]:
    """The lines of one (re)connection not delivered yet, with the position after each.

    `position` is [timestamp ns, lines delivered with that timestamp]; it is advanced in place.
    """
    replayed = 0
    for raw in raw_lines:
        stamp_text, _, text = raw.partition(" ")
        try:
            stamp = parse_timestamp(stamp_text)
        except ValueError:  # the kubelet's own words ("failed to ..." as a pod is removed), not the replica's
            continue
        if stamp < position[0]:
            continue
        if stamp == position[0]:
            replayed += 1
            if replayed <= position[1]:
                continue
            position[1] += 1
        else:
            position[0], position[1], replayed = stamp, 1, 1
        yield text.rstrip("\r"), list(position)


def parse_timestamp(text: str) -> int:
    """RFC 3339 with up to nanoseconds ("2026-11-27T09:00:00.123456789Z") as integer nanoseconds."""
    whole, _, fraction = text.rstrip("Z").partition(".")
    seconds = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    return int(seconds) * 10**9 + int((fraction + "000000000")[:9])


def cursor_of(positions: dict[str, list[int]]) -> dict[str, list[int]]:
    """A JSON-able copy of every pod's position: resuming from it continues right after the line."""
    return {pod: list(position) for pod, position in positions.items()}


def has_stored_logs(job_url: str, cursor: dict | None) -> bool:
    """Whether a finished job's logs are best read from what its replicas stored: they are there, and the
    cursor (if any) came from reading them, not from the pods' streams."""
    return all(key.startswith("attempt-") for key in cursor or {}) and storage.exists(storage.join(job_url, "logs"))


def stored_logs(job_url: str, cursor: dict | None) -> Iterator[LogLine]:
    """The logs each replica stored with the job at the end of its attempt."""
    with tempfile.TemporaryDirectory(prefix="hubml-logs-") as root:
        url = storage.join(job_url, "logs")
        if storage.exists(url):
            storage.download(url, root)
        yield from log_files.read_logs(root, False, lambda: True, cursor)


def read_logs(source: LogSource, job_id: str, cursor: dict | None) -> Iterator[LogLine]:
    """What every replica has logged so far, after `cursor`."""
    positions = {pod: list(saved) for pod, saved in (cursor or {}).items()}
    for attempt, role, index, pod in source.replicas(job_id):
        position = positions.setdefault(pod, [0, 0])
        try:
            response = source.open(pod, follow=False, since_ns=position[0])
        except ApiException as error:
            if error.status in (400, 404):  # not started yet, or gone
                continue
            raise
        try:
            for text, after in new_lines(complete_lines(response), position):
                positions[pod] = after
                yield LogLine(attempt, role, index, text, cursor_of(positions))
        finally:
            release(response)


def follow_logs(source: LogSource, job_id: str, is_final: Callable[[], bool],
                cursor: dict | None) -> Iterator[LogLine]:
    """Every replica's lines as they come, until the job is final and every line written is read."""
    positions = {pod: list(saved) for pod, saved in (cursor or {}).items()}
    lines: queue.Queue = queue.Queue()
    streams: dict[str, PodStream] = {}
    try:
        while True:
            final = is_final()  # read first: every line written before the job ended is then read below
            for attempt, role, index, pod in source.replicas(job_id):
                if pod not in streams:
                    streams[pod] = PodStream(source, pod, (attempt, role, index), positions.get(pod, [0, 0]), lines)
            if final:
                for stream in streams.values():
                    stream.finish()
            deadline = time.monotonic() + POD_POLL_SECONDS
            while time.monotonic() < deadline:
                try:
                    (attempt, role, index), pod, text, after = lines.get(timeout=0.05)
                except queue.Empty:
                    if final and not any(stream.alive for stream in streams.values()) and lines.empty():
                        return
                    continue
                positions[pod] = after
                yield LogLine(attempt, role, index, text, cursor_of(positions))
    finally:
        for stream in streams.values():
            stream.stop()


class PodStream:
    """One pod's log, followed in a thread; reconnects after a drop until the container has ended."""

    def __init__(self, source: LogSource, pod: str, replica: tuple[int, str, int], position: list[int],
                 lines: queue.Queue):
        self.source = source
        self.pod = pod
        self.replica = replica
        self.position = list(position)
        self.lines = lines
        self.reconnects = 0
        self._finishing = threading.Event()
        self._stopped = threading.Event()
        self._response: Any = None
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"hubml-log-{pod}")
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def finish(self) -> None:
        """Read what is there and end, without waiting for more (the job is over)."""
        if not self._finishing.is_set():
            self._finishing.set()
            self._interrupt()

    def stop(self) -> None:
        self._stopped.set()
        self._interrupt()
        self._thread.join(timeout=5)

    def _interrupt(self) -> None:
        interrupt(self._response)

    def _run(self) -> None:
        while not self._stopped.is_set():
            finishing = self._finishing.is_set()
            try:
                if finishing or self.source.terminated(self.pod):
                    self._read(follow=False)
                    return
                self._read(follow=True)
            except ApiException as error:
                # 404: the pod is gone; 400: its container has not started (yet, or ever, once finishing).
                if error.status == 404 or (error.status == 400 and finishing):
                    return
                self.reconnects += error.status != 400
            except Exception:  # the stream dropped: reconnect from the position reached
                self.reconnects += 1
            self._stopped.wait(RECONNECT_SECONDS)

    def _read(self, follow: bool) -> None:
        self._response = self.source.open(self.pod, follow, self.position[0])
        try:
            if follow and self._finishing.is_set():  # finish() came while connecting
                return
            for text, after in new_lines(complete_lines(self._response), self.position):
                if self._stopped.is_set():
                    return
                self.lines.put((self.replica, self.pod, text, after))
        finally:
            release(self._response)
            self._response = None
