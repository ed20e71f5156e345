"""A small Kubernetes API server over real HTTP: objects by path, create / read / replace.

Just enough of the API's contract for the hub's pre-spawn hook: POST to a
collection creates (409 AlreadyExists if the name is taken), GET reads an
object (404 if absent), PUT replaces it. Every request is recorded, so a test
can check what the real `kubernetes_asyncio` client sent.
"""
from __future__ import annotations

import json
import socket

from tornado import httpserver, web


class FakeKubeAPI:
    def __init__(self):
        self.objects: dict[str, dict] = {}
        self.requests: list[tuple[str, str]] = []
        self._server: httpserver.HTTPServer | None = None
        self.url = ""

    def start(self) -> "FakeKubeAPI":
        """Listen on a free loopback port; call from inside the running event loop."""
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.setblocking(False)
        self._server = httpserver.HTTPServer(web.Application([(r"/.*", _Handler, {"api": self})]))
        self._server.add_sockets([sock])
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self

    def stop(self) -> None:
        if self._server:
            self._server.stop()

    def put_object(self, path: str, body: dict) -> None:
        self.objects[path] = body


def _status(code: int, reason: str, message: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
            "reason": reason, "message": message}


class _Handler(web.RequestHandler):
    def initialize(self, api: FakeKubeAPI) -> None:
        self.api = api

    def prepare(self) -> None:
        self.api.requests.append((self.request.method, self.request.path))
        self.set_header("Content-Type", "application/json")

    def _reply(self, code: int, body: dict) -> None:
        self.set_status(code)
        self.finish(json.dumps(body))

    def get(self) -> None:
        found = self.api.objects.get(self.request.path)
        if found is None:
            return self._reply(404, _status(404, "NotFound", f"{self.request.path} not found"))
        self._reply(200, found)

    def post(self) -> None:
        body = json.loads(self.request.body)
        path = f"{self.request.path}/{body['metadata']['name']}"
        if path in self.api.objects:
            return self._reply(409, _status(409, "AlreadyExists", f"{path} already exists"))
        self.api.objects[path] = body
        self._reply(201, body)

    def put(self) -> None:
        if self.request.path not in self.api.objects:
            return self._reply(404, _status(404, "NotFound", f"{self.request.path} not found"))
        self.api.objects[self.request.path] = json.loads(self.request.body)
        self._reply(200, self.api.objects[self.request.path])
