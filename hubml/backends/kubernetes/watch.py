"""One list-and-watch per resource kind and namespace, kept current in memory.

A `ResourceWatch` lists once, then watches from the list's resourceVersion.
When the stream ends (the server's timeout) or drops (a proxy, a network
blip), it watches again from the last resourceVersion it saw, so no change is
missed and nothing is listed twice; only when the server answers 410 Gone
(that version is too old to resume from) does it list again. Reading the
status of every job is then a dictionary lookup: the cost in API requests
does not grow with the number of jobs.
"""
from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable, Iterator

from hubml.exceptions import BackendError

WATCH_SECONDS = 240
CONNECT_SECONDS = 10
REQUEST_TIMEOUT = (CONNECT_SECONDS, 60)
MAX_RETRY_DELAY = 5.0
REFUSALS = (401, 403, 404)


class Gone(Exception):
    """The resourceVersion to resume from is no longer kept by the server (410)."""


class ResourceWatch:
    def __init__(self, list_objects: Callable[..., Any], namespace: str, label_selector: str | None,
                 on_change: Callable[[dict[str, Any]], None] | None = None, field_selector: str | None = None):
        self.list_objects = list_objects
        self.namespace = namespace
        self.selectors = {key: value for key, value in (("label_selector", label_selector),
                                                        ("field_selector", field_selector)) if value}
        self.what = ",".join(self.selectors.values()) or "all"
        self.on_change = on_change or (lambda obj: None)
        self.resource_version: str | None = None
        self.lists = self.watches = 0
        self.last_error: BaseException | None = None
        self.synced = threading.Event()
        self.refused = threading.Event()
        self._objects: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._response: Any = None
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"hubml-watch-{namespace}-{self.what}")

    # --- reading ---------------------------------------------------------------------

    def start(self) -> ResourceWatch:
        self._thread.start()
        return self

    def wait_synced(self, timeout: float) -> None:
        """Return once listed; raise at once if the server refused (no rights), else after `timeout`."""
        deadline = time.monotonic() + timeout
        while not self.synced.wait(0.05):
            if self.refused.is_set() or time.monotonic() > deadline:
                raise BackendError(f"could not list {self.what} objects in namespace {self.namespace}: "
                                   f"{describe(self.last_error) if self.last_error else 'no answer'}")

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return dict(self._objects)

    def get(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self._objects.get(name)

    def put(self, obj: dict[str, Any]) -> None:
        """Remember an object this client just wrote, so it reads its own writes before the watch brings them."""
        with self._lock:
            known = self._objects.get(obj["metadata"]["name"])
            if known is None or version(obj) >= version(known):
                self._objects[obj["metadata"]["name"]] = obj

    def stop(self) -> None:
        self._stopped.set()
        interrupt(self._response)
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    # --- the loop --------------------------------------------------------------------

    def _run(self) -> None:
        delay = 0.1
        while not self._stopped.is_set():
            try:
                if self.resource_version is None:
                    self._list()
                self._watch()
                delay = 0.1
            except Gone:
                self.resource_version = None
            except Exception as error:  # a dropped stream, a refused request: resume after a pause
                if self._stopped.is_set():
                    return
                self.last_error = error
                if getattr(error, "status", None) in REFUSALS:  # keep trying: the rights may be granted
                    self.refused.set()
                self._stopped.wait(delay)
                delay = min(delay * 2, MAX_RETRY_DELAY)

    def _list(self) -> None:
        response = self.list_objects(self.namespace, **self.selectors, _preload_content=False,
                                     _request_timeout=REQUEST_TIMEOUT)
        self.lists += 1
        data = json.loads(response.data)
        objects = {item["metadata"]["name"]: item for item in data["items"]}
        with self._lock:
            self._objects = objects
            self.resource_version = data["metadata"]["resourceVersion"]
        self.synced.set()
        for obj in objects.values():
            self.on_change(obj)

    def _watch(self) -> None:
        try:
            self._response = self.list_objects(
                self.namespace, **self.selectors, watch=True, resource_version=self.resource_version,
                allow_watch_bookmarks=True, timeout_seconds=WATCH_SECONDS, _preload_content=False,
                _request_timeout=(CONNECT_SECONDS, WATCH_SECONDS + 30))
        except Exception as error:  # the version can also be refused before the stream starts
            if getattr(error, "status", None) == 410:
                raise Gone(str(error)) from error
            raise
        self.watches += 1
        try:
            for line in complete_lines(self._response):
                if line.strip():
                    self._apply(json.loads(line))
        finally:
            release(self._response)
            self._response = None

    def _apply(self, event: dict[str, Any]) -> None:
        kind, obj = event["type"], event["object"]
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise Gone(obj.get("message", ""))
            raise BackendError(f"watch of {self.what} failed: {obj.get('message', obj)}")
        with self._lock:
            if kind == "DELETED":
                self._objects.pop(obj["metadata"]["name"], None)
            elif kind != "BOOKMARK":
                self._objects[obj["metadata"]["name"]] = obj
            self.resource_version = obj["metadata"]["resourceVersion"]
        if kind != "BOOKMARK":
            self.on_change(obj)


def version(obj: dict[str, Any]) -> int:
    """resourceVersion as a number (etcd's revision) to order two copies of one object; 0 if opaque."""
    text = obj["metadata"].get("resourceVersion", "")
    return int(text) if text.isdigit() else 0


def complete_lines(response: Any) -> Iterator[str]:
    """The newline-terminated lines of a streamed response; a line cut off by a dropped stream is never yielded."""
    buffer = b""
    for chunk in response.stream(amt=None, decode_content=False):
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            yield line.decode(errors="replace")
    if buffer:
        yield buffer.decode(errors="replace")


def interrupt(response: Any) -> None:
    """Unblock the thread reading a streamed response; one the network already cut needs nothing."""
    if response is not None:
        try:
            response.shutdown()
        except (OSError, ValueError):  # ValueError: urllib3 already let go of the socket
            pass


def release(response: Any) -> None:
    """Close a streamed response and hand its connection back: a stream cut mid-way cannot be reused."""
    response.close()
    response.release_conn()


def describe(error: BaseException) -> str:
    """An API refusal as the server worded it, else the error itself."""
    body = getattr(error, "body", None)
    try:
        return f"{error.status} {json.loads(body)['message']}"
    except (TypeError, ValueError, KeyError, AttributeError):
        return str(error)
