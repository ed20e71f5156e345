"""The HTTP/1.1 server under `hubml serve`'s REST API: an asyncio protocol on httptools.

TF Serving puts its REST API on a small embedded HTTP server, not on a web
framework, and so do we: on the 2-core VM a tornado handler cost about 0.2 ms
of Python per request, more than parsing a 784-float body and running the
model together, while this protocol on httptools (the C parser uvicorn uses)
costs about 0.02 ms (benchmarks/serving.py; the README's Performance section).

What it does: keep-alive (HTTP/1.1 by default, HTTP/1.0 when asked),
pipelined requests answered in order, chunked request bodies,
`Expect: 100-continue`, a body limit answered with 413 as soon as a declared
length or a chunked body passes it, malformed requests answered 400, idle
connections closed, and no more reading while a client does not read its
responses, and a request whose headers and body have not all arrived within
`read_timeout` seconds of its first byte answered 408 and closed: a client
trickling its headers a byte at a time (slowloris) would otherwise keep the
idle clock fresh forever. A connection that ends (HTTP/1.0, a refusal, an error) is closed
gracefully: the answer, then FIN, then whatever the client still sends is
dropped until it closes or `LINGER_SECONDS` pass, since closing with unread
bytes would reset the connection and could destroy the answer. It does not do
TLS, HTTP/2 or streamed responses; the endpoints it serves need none of them.
"""
from __future__ import annotations

import asyncio
import collections
import http
import logging
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

import httptools
import orjson

log = logging.getLogger(__name__)

JSON = "application/json"
MAX_HEADER_BYTES = 64 << 10
LINGER_SECONDS = 2.0
_REASONS = {status.value: status.phrase for status in http.HTTPStatus}


@dataclass(slots=True)
class Request:
    method: str
    path: str  # as sent (percent-encoded, as TF Serving matches it), without the query string
    headers: dict[str, str]  # names in lower case
    body: bytes


@dataclass(slots=True)
class Response:
    status: int
    body: bytes
    content_type: str = JSON


Handler = Callable[[Request], Awaitable[Response]]


def error_response(status: int, message: str) -> Response:
    """TF Serving's error body, `{"error": "..."}`."""
    return Response(status, orjson.dumps({"error": message}))


def _head(response: Response, keep_alive: bool) -> bytes:
    connection = b"" if keep_alive else b"Connection: close\r\n"
    return b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n" % (
        response.status, _REASONS.get(response.status, "Unknown").encode(), response.content_type.encode(),
        len(response.body), connection)


class HttpServer:
    """Listens on one address and hands every complete request to `handler`."""

    def __init__(self, handler: Handler, max_body_bytes: int, idle_timeout: float = 600.0,
                 read_timeout: float = 30.0):
        self.handler, self.max_body_bytes, self.idle_timeout = handler, max_body_bytes, idle_timeout
        self.read_timeout = read_timeout
        self.connections: set[_Connection] = set()
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.TimerHandle | None = None

    async def listen(self, host: str, port: int, reuse_port: bool = False) -> int:
        """Start accepting; returns the bound port (useful with port 0). With `reuse_port`
        other processes may listen on the same port, and the kernel spreads connections over them."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), host, port, backlog=1024,
                                                reuse_port=reuse_port)
        self._sweeper = loop.call_later(self._sweep_seconds, self._close_idle)
        return self._server.sockets[0].getsockname()[1]

    @property
    def _sweep_seconds(self) -> float:
        return max(0.5, min(30.0, self.idle_timeout / 2, self.read_timeout / 2))

    def _close_idle(self) -> None:
        now = time.monotonic()
        for connection in list(self.connections):
            if connection.running or connection.failed:
                continue
            if connection.reading_since is not None and connection.reading_since < now - self.read_timeout:
                connection.read_timed_out(self.read_timeout)
            elif connection.last_active < now - self.idle_timeout:
                connection.transport.close()
        self._sweeper = asyncio.get_running_loop().call_later(self._sweep_seconds, self._close_idle)

    async def close(self) -> None:
        if self._sweeper:
            self._sweeper.cancel()
        if self._server:
            self._server.close()
            for connection in list(self.connections):
                connection.transport.close()
            await self._server.wait_closed()


class _Connection(asyncio.Protocol):
    """One client connection: parses requests, runs them one at a time, writes answers in order."""

    def __init__(self, server: HttpServer):
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.pending: collections.deque[tuple[Request | Response | None, bool]] = collections.deque()  # None: end
        self.running = False
        self.reading_paused = False
        self.writing_paused = False
        self.failed = False  # parse no more: answer what is queued, then end the connection
        self.ended = False  # the last answer is written; reading only drains
        self.last_active = time.monotonic()
        self.reading_since: float | None = None  # when the request being read began arriving
        self._reset()

    def _reset(self) -> None:
        self.url = b""
        self.headers: dict[str, str] = {}
        self.header_bytes = 0
        self.body: list[bytes] = []
        self.body_size = 0

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport, self.loop = transport, asyncio.get_running_loop()
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self.pending.clear()

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        if self.failed:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:  # answered as plain HTTP; what follows is not HTTP any more
            self._fail(None)
        except httptools.HttpParserError as error:
            self._fail(error_response(400, f"Malformed HTTP request: {error}"))

    def eof_received(self) -> bool:
        return False  # the client is done sending: close once our answers are out

    def pause_writing(self) -> None:
        self.writing_paused = True
        self._pause_reading()

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._resume_reading()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._reset()
        self.reading_since = time.monotonic()

    def on_url(self, url: bytes) -> None:
        self.url += url
        self._count_header_bytes(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")
        self._count_header_bytes(len(name) + len(value))

    def on_headers_complete(self) -> None:
        declared = self.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.server.max_body_bytes:
            self._refuse_body(int(declared))
        if self.headers.get("expect", "").lower() == "100-continue":
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, chunk: bytes) -> None:
        self.body_size += len(chunk)
        if self.body_size > self.server.max_body_bytes:  # a chunked body that grew past the limit
            self._refuse_body(self.body_size)
        self.body.append(chunk)

    def on_message_complete(self) -> None:
        self.reading_since = None
        keep_alive = self.parser.should_keep_alive()
        item = Request(self.parser.get_method().decode("latin-1"), _path(self.url), self.headers,
                       b"".join(self.body) if len(self.body) != 1 else self.body[0])
        self.pending.append((item, keep_alive))
        if self.running:
            self._pause_reading()  # pipelined: parse no further until the queue drains
        else:
            self._run_next()

    # running requests
    def _run_next(self) -> None:
        while self.pending and not self.ended and not self.transport.is_closing():
            item, keep_alive = self.pending.popleft()
            if item is None:
                self._end()
                break
            if isinstance(item, Response):
                self._write(item, keep_alive)
                continue
            self.running = True
            task = self.loop.create_task(self.server.handler(item))
            task.add_done_callback(lambda done, request=item, keep=keep_alive: self._finish(request, keep, done))
            return
        self.running = False
        self.last_active = time.monotonic()
        self._resume_reading()

    def _finish(self, request: Request, keep_alive: bool, task: asyncio.Future) -> None:
        if task.cancelled():
            response = error_response(503, "The server is shutting down")
        elif task.exception() is not None:
            error = task.exception()
            log.error("%s %s failed", request.method, request.path, exc_info=(type(error), error, error.__traceback__))
            response = error_response(500, f"Internal error: {type(error).__name__}: {error}")
        else:
            response = task.result()
        if response.status >= 400:
            log.warning("%s %s -> %d", request.method, request.path, response.status)
        if not self.ended and not self.transport.is_closing():
            self._write(response, keep_alive)
        self._run_next()

    def _write(self, response: Response, keep_alive: bool) -> None:
        self.transport.write(_head(response, keep_alive) + response.body)
        if not keep_alive:
            self._end()

    def _end(self) -> None:
        """The graceful close of the module docstring: FIN after the answers, drain, close."""
        self.ended = self.failed = True
        self.pending.clear()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)
        self._resume_reading()

    # failures of the HTTP layer itself
    def _refuse_body(self, size: int) -> None:
        self._fail(error_response(413, f"Request body of {size} bytes exceeds the server's limit of "
                                       f"{self.server.max_body_bytes} bytes"))
        raise httptools.HttpParserError("body too large")

    def read_timed_out(self, seconds: float) -> None:
        self.reading_since = None
        self._fail(error_response(408, f"The request's headers and body did not arrive within {seconds:g} seconds"))

    def _count_header_bytes(self, size: int) -> None:
        self.header_bytes += size
        if self.header_bytes > MAX_HEADER_BYTES:
            self._fail(error_response(431, f"Request headers exceed {MAX_HEADER_BYTES} bytes"))
            raise httptools.HttpParserError("headers too large")

    def _fail(self, response: Response | None) -> None:
        """Answer the requests already queued, then `response` if any, then close: the stream cannot
        be trusted past here."""
        if self.failed or self.transport.is_closing():
            return
        self.failed = True
        self.pending.append((response, False))
        if not self.running:
            self._run_next()

    def _pause_reading(self) -> None:
        if not self.reading_paused and not self.transport.is_closing():
            self.reading_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self.reading_paused and (self.ended or not self.writing_paused) and not self.transport.is_closing():
            self.reading_paused = False
            self.transport.resume_reading()
            if self.reading_since is not None:  # the time we did not read is not the client's slowness
                self.reading_since = time.monotonic()


def _path(url: bytes) -> str:
    path = httptools.parse_url(url).path if url[:1] != b"/" or b"?" in url or b"#" in url else url
    return path.decode("utf-8", "replace")
