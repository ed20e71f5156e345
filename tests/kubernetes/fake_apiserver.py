"""A small Kubernetes API server over real HTTP, for the backend's tests.

kmock's `KubernetesEmulator` (PyPI kmock 0.8) was tried first and falls short:
its lists carry a placeholder resourceVersion ('...'), its watches cannot
resume from one (no 410 Gone either), it has no label selectors and no
pods/log. This fake implements just what the backend uses, with the API's
semantics:

- create / get / list / watch / merge-patch / delete for v1 pods, services,
  configmaps, resourcequotas, serviceaccounts, batch/v1 jobs, apps/v1
  deployments and rbac roles / rolebindings, in namespaces;
- one resourceVersion counter; lists return it, watches resume after it,
  replay what happened since, and answer 410 Gone below the compaction point;
- label selectors (`k=v`, `k!=v`, `k`, comma-separated);
- delete with propagation: Foreground marks the object, removes its
  dependents (by ownerReferences), then the object;
- pods/log with `follow`, `timestamps` (RFC 3339 with nanoseconds, trailing
  zeros trimmed as the kubelet does) and `sinceTime` (whole seconds);
- every request is recorded (method, path, query) so tests count them;
- `drop_watches()` / `drop_log_streams()` cut open streams mid-way.

Tests play the controllers through `FakeCluster`'s methods (in-process).
"""
from __future__ import annotations

import bisect
import copy
import json
import re
import socket
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

RESOURCES = {
    "pods": ("v1", "Pod"), "services": ("v1", "Service"), "configmaps": ("v1", "ConfigMap"),
    "resourcequotas": ("v1", "ResourceQuota"), "serviceaccounts": ("v1", "ServiceAccount"),
    "jobs": ("batch/v1", "Job"), "deployments": ("apps/v1", "Deployment"),
    "roles": ("rbac.authorization.k8s.io/v1", "Role"), "rolebindings": ("rbac.authorization.k8s.io/v1", "RoleBinding"),
}
PATH = re.compile(r"^/(?:api/v1|apis/(?P<group>[^/]+)/v1)/namespaces/(?P<namespace>[^/]+)/(?P<plural>[a-z]+)"
                  r"(?:/(?P<name>[^/]+))?(?:/(?P<sub>log))?$")
TERMINAL_PHASES = ("Succeeded", "Failed")


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def status(self) -> dict[str, Any]:
        return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": self.message,
                "reason": self.reason, "code": self.code}


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_nano(stamp_ns: int) -> str:
    """As the kubelet writes log timestamps (Go's RFC3339Nano: trailing zeros of the fraction trimmed)."""
    whole = datetime.fromtimestamp(stamp_ns // 10**9, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{stamp_ns % 10**9:09d}".rstrip("0")
    return f"{whole}.{fraction}Z" if fraction else f"{whole}Z"


def matches(labels: dict[str, str], selector: str) -> bool:
    for term in filter(None, (selector or "").split(",")):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.split("=", 1)
            if labels.get(key.rstrip("=")) != value:
                return False
        elif term not in labels:
            return False
    return True


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class FakeCluster:
    """The state behind the fake server: objects, the event history, pod logs and the requests seen."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.events: list[tuple[int, str, str, str, dict[str, Any]]] = []
        self.event_versions: list[int] = []
        self.resource_version = 0
        self.compacted_before = 0
        self.logs: dict[tuple[str, str], list[tuple[int, str]]] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.bodies: list[tuple[str, str, Any]] = []
        self.watch_generation = self.log_generation = 0
        self.closing = False
        self.last_stamp = 0
        self.forbidden: set[tuple[str, str]] = set()  # (method, plural) answered 403, as RBAC would

    # --- objects -----------------------------------------------------------------------

    def _record(self, kind: str, plural: str, namespace: str, obj: dict[str, Any]) -> None:
        self.resource_version += 1
        obj["metadata"]["resourceVersion"] = str(self.resource_version)
        self.events.append((self.resource_version, plural, namespace, kind, copy.deepcopy(obj)))
        self.event_versions.append(self.resource_version)
        self.changed.notify_all()

    def create(self, plural: str, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        version, kind = RESOURCES[plural]
        obj = copy.deepcopy(body)
        metadata = obj.setdefault("metadata", {})
        if metadata.get("namespace", namespace) != namespace:
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace "
                                              "sent on the request")
        with self.changed:
            key = (plural, namespace, metadata.get("name", ""))
            if key in self.objects:
                raise ApiError(409, "AlreadyExists", f'{plural} "{key[2]}" already exists')
            obj.update(apiVersion=version, kind=kind)
            metadata.update(namespace=namespace, uid=str(uuid.uuid4()), creationTimestamp=now_rfc3339(), generation=1)
            if plural in ("jobs", "deployments"):
                obj.setdefault("status", {})
            self.objects[key] = obj
            self._record("ADDED", plural, namespace, obj)
            return copy.deepcopy(obj)

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any]:
        with self.changed:
            if (plural, namespace, name) not in self.objects:
                raise ApiError(404, "NotFound", f'{plural} "{name}" not found')
            return copy.deepcopy(self.objects[plural, namespace, name])

    def list(self, plural: str, namespace: str, selector: str = "") -> tuple[list[dict[str, Any]], int]:
        with self.changed:
            items = [copy.deepcopy(obj) for (kind, space, _), obj in self.objects.items()
                     if kind == plural and space == namespace and matches(obj["metadata"].get("labels") or {}, selector)]
            return items, self.resource_version

    def patch(self, plural: str, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        with self.changed:
            if (plural, namespace, name) not in self.objects:
                raise ApiError(404, "NotFound", f'{plural} "{name}" not found')
            obj = merge_patch(self.objects[plural, namespace, name], patch)
            self.objects[plural, namespace, name] = obj
            self._record("MODIFIED", plural, namespace, obj)
            return copy.deepcopy(obj)

    def delete(self, plural: str, namespace: str, name: str, propagation: str = "Background") -> dict[str, Any]:
        with self.changed:
            if (plural, namespace, name) not in self.objects:
                raise ApiError(404, "NotFound", f'{plural} "{name}" not found')
            obj = self.objects[plural, namespace, name]
            if propagation == "Foreground":
                obj["metadata"].update(deletionTimestamp=now_rfc3339(), finalizers=["foregroundDeletion"])
                self._record("MODIFIED", plural, namespace, obj)
                marked = copy.deepcopy(obj)
            if propagation != "Orphan":
                for (kind, space, dependent), other in list(self.objects.items()):
                    owners = other["metadata"].get("ownerReferences") or []
                    if space == namespace and any(owner.get("uid") == obj["metadata"]["uid"] for owner in owners):
                        self.delete(kind, space, dependent, propagation)
            del self.objects[plural, namespace, name]
            self._record("DELETED", plural, namespace, obj)
            return marked if propagation == "Foreground" else copy.deepcopy(obj)

    def events_after(self, version: int, plural: str, namespace: str, selector: str) -> list[tuple[int, str, dict]]:
        start = bisect.bisect_right(self.event_versions, version)
        return [(rv, kind, obj) for rv, what, space, kind, obj in self.events[start:]
                if what == plural and space == namespace and matches(obj["metadata"].get("labels") or {}, selector)]

    def compact(self) -> None:
        """Forget the history up to now: a watch resuming from before it gets 410 Gone, as from etcd."""
        with self.changed:
            self.compacted_before = self.resource_version

    # --- logs and streams --------------------------------------------------------------

    def append_log(self, namespace: str, pod: str, text: str, stamp_ns: int | None = None) -> int:
        """Write a line to a pod's log, stamped now (strictly later than the last) or at `stamp_ns`."""
        with self.changed:
            if stamp_ns is None:
                stamp_ns = max(time.time_ns(), self.last_stamp + 1)
            self.last_stamp = max(self.last_stamp, stamp_ns)
            self.logs.setdefault((namespace, pod), []).append((stamp_ns, text))
            self.changed.notify_all()
            return stamp_ns

    def drop_watches(self) -> None:
        with self.changed:
            self.watch_generation += 1
            self.changed.notify_all()

    def drop_log_streams(self) -> None:
        with self.changed:
            self.log_generation += 1
            self.changed.notify_all()

    # --- what the tests count ----------------------------------------------------------

    def count(self, method: str | None = None, plural: str | None = None, watch: bool | None = None) -> int:
        total = 0
        for seen_method, path, query in list(self.requests):
            match = PATH.match(path)
            if method and seen_method != method:
                continue
            if plural and not (match and match.group("plural") == plural):
                continue
            if watch is not None and (query.get("watch") == "true") != watch:
                continue
            total += 1
        return total


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    cluster: FakeCluster

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        cluster = self.cluster
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        with cluster.changed:
            cluster.requests.append((method, parts.path, query))
            cluster.bodies.append((method, parts.path, body))
        match = PATH.match(parts.path)
        try:
            if not match or match.group("plural") not in RESOURCES:
                raise ApiError(404, "NotFound", f"the server could not find the requested resource {parts.path}")
            if (method, match.group("plural")) in cluster.forbidden:
                raise ApiError(403, "Forbidden", f'{match.group("plural")} is forbidden: User '
                                                 '"system:serviceaccount:hubml-alice:hubml-notebook" cannot '
                                                 f"{method.lower()} it in namespace {match.group('namespace')}")
            self._route(method, match, query, body)
        except ApiError as error:
            self._send_json(error.code, error.status())
        except (BrokenPipeError, ConnectionResetError):  # the client went away mid-stream: so be it
            self.close_connection = True

    def _route(self, method: str, match: re.Match, query: dict[str, str], body: Any) -> None:
        plural, namespace, name = match.group("plural"), match.group("namespace"), match.group("name")
        cluster = self.cluster
        if match.group("sub") == "log":
            return self._serve_log(namespace, name, query)
        if method == "GET" and name:
            return self._send_json(200, cluster.get(plural, namespace, name))
        if method == "GET" and query.get("watch") == "true":
            return self._serve_watch(plural, namespace, query)
        if method == "GET":
            items, version = cluster.list(plural, namespace, query.get("labelSelector", ""))
            api_version, kind = RESOURCES[plural]
            return self._send_json(200, {"kind": f"{kind}List", "apiVersion": api_version,
                                         "metadata": {"resourceVersion": str(version)}, "items": items})
        if method == "POST" and not name:
            return self._send_json(201, cluster.create(plural, namespace, body))
        if method == "PATCH" and name:
            return self._send_json(200, cluster.patch(plural, namespace, name, body))
        if method == "DELETE" and name:
            propagation = (body or {}).get("propagationPolicy") or query.get("propagationPolicy") or "Background"
            return self._send_json(200, cluster.delete(plural, namespace, name, propagation))
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported here")

    # --- responses ---------------------------------------------------------------------

    def _send_json(self, code: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _drop(self) -> None:
        """Cut the connection mid-stream, as a failing proxy or network would."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _serve_watch(self, plural: str, namespace: str, query: dict[str, str]) -> None:
        cluster, selector = self.cluster, query.get("labelSelector", "")
        deadline = time.monotonic() + float(query.get("timeoutSeconds") or 1800)
        with cluster.changed:
            generation = cluster.watch_generation
            since = query.get("resourceVersion") or "0"
            if since == "0":
                items, position = cluster.list(plural, namespace, selector)
                pending = [json.dumps({"type": "ADDED", "object": item}) for item in items]
            elif int(since) < cluster.compacted_before:
                gone = ApiError(410, "Expired", f"too old resource version: {since} ({cluster.compacted_before})")
                pending, position = [json.dumps({"type": "ERROR", "object": gone.status()})], None
            else:
                pending, position = [], int(since)
        self._start_stream("application/json")
        while True:
            self._chunk("".join(line + "\n" for line in pending).encode())
            if position is None:
                return self._end_stream()
            with cluster.changed:
                while (cluster.resource_version <= position and cluster.watch_generation == generation
                       and not cluster.closing and time.monotonic() < deadline):
                    cluster.changed.wait(0.05)
                if cluster.watch_generation != generation:
                    return self._drop()
                if cluster.closing or time.monotonic() >= deadline:
                    return self._end_stream()
                fresh = cluster.events_after(position, plural, namespace, selector)
                position = cluster.resource_version
            pending = [json.dumps({"type": kind, "object": obj}) for _, kind, obj in fresh]

    def _serve_log(self, namespace: str, pod: str, query: dict[str, str]) -> None:
        cluster = self.cluster
        found = cluster.get("pods", namespace, pod)
        since = query.get("sinceTime")
        since_ns = 0
        if since:
            since_ns = int(datetime.strptime(since, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())
            since_ns *= 10**9
        with cluster.changed:
            lines = cluster.logs.get((namespace, pod), [])
            if not lines and (found.get("status") or {}).get("phase", "Pending") == "Pending":
                raise ApiError(400, "BadRequest", f'container "{query.get("container")}" in pod "{pod}" is '
                                                  "waiting to start: ContainerCreating")
            generation, sent = cluster.log_generation, 0
        stamps = query.get("timestamps") == "true"

        def render(entries: list[tuple[int, str]]) -> bytes:
            return "".join(f"{rfc3339_nano(stamp) + ' ' if stamps else ''}{text}\n"
                           for stamp, text in entries if stamp >= since_ns).encode()

        if query.get("follow") != "true":
            with cluster.changed:
                data = render(list(cluster.logs.get((namespace, pod), [])))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self._start_stream("text/plain")
        while True:
            with cluster.changed:
                entries = cluster.logs.get((namespace, pod), [])
                while (len(entries) <= sent and cluster.log_generation == generation and not cluster.closing
                       and not self._terminated(namespace, pod)):
                    cluster.changed.wait(0.05)
                if cluster.log_generation != generation:
                    return self._drop()
                fresh, sent = entries[sent:], len(entries)
                ended = cluster.closing or self._terminated(namespace, pod)
            self._chunk(render(fresh))
            if ended and not fresh:
                return self._end_stream()

    def _terminated(self, namespace: str, pod: str) -> bool:
        obj = self.cluster.objects.get(("pods", namespace, pod))
        return obj is None or (obj.get("status") or {}).get("phase") in TERMINAL_PHASES


class FakeApiServer:
    """`with FakeApiServer() as server:` serves `server.cluster` at `server.url` on a free loopback port."""

    def __init__(self) -> None:
        self.cluster = FakeCluster()
        handler = type("BoundHandler", (Handler,), {"cluster": self.cluster})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> FakeApiServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        with self.cluster.changed:
            self.cluster.closing = True
            self.cluster.changed.notify_all()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)
