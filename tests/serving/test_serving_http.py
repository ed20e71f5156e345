"""The HTTP/1.1 layer under the REST API (hubml.serving.http), spoken to over raw sockets."""
from __future__ import annotations

import json
import select
import socket
import time

import pytest

PREDICT = b'{"instances": [1.0, 2.0]}'
PREDICTED = {"predictions": [2.5, 3.0]}


def request(path: str, body: bytes | None = None, *, version: str = "1.1", headers: dict | None = None) -> bytes:
    lines = [f"{'POST' if body is not None else 'GET'} {path} HTTP/{version}", "Host: test"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body is not None and "Transfer-Encoding" not in (headers or {}):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


class Reader:
    """Reads HTTP responses one after another from one connection."""

    def __init__(self, connection: socket.socket):
        self.file = connection.makefile("rb")

    def response(self) -> tuple[int, dict[str, str], bytes]:
        status = int(self.file.readline().split()[1])
        headers = {}
        while (line := self.file.readline().decode()) not in ("\r\n", ""):
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
        return status, headers, self.file.read(int(headers.get("content-length", 0)))

    def closed(self) -> bool:
        return self.file.read(1) == b""


@pytest.fixture
def connect(model_server):
    opened = []

    def open_connection() -> tuple[socket.socket, Reader]:
        connection = socket.create_connection(("127.0.0.1", model_server.rest_port), timeout=30)
        opened.append(connection)
        return connection, Reader(connection)

    yield open_connection
    for connection in opened:
        connection.close()


def assert_still_serving(connect) -> None:
    connection, reader = connect()
    connection.sendall(request("/v1/models/half_plus_two:predict", PREDICT))
    assert json.loads(reader.response()[2]) == PREDICTED


def test_keep_alive_serves_many_requests_on_one_connection(connect):
    connection, reader = connect()
    for _ in range(3):
        connection.sendall(request("/v1/models/half_plus_two:predict", PREDICT))
        status, headers, body = reader.response()
        assert (status, json.loads(body)) == (200, PREDICTED)
        assert headers["content-type"] == "application/json" and "connection" not in headers


def test_pipelined_requests_are_answered_in_order(connect):
    connection, reader = connect()
    connection.sendall(request("/v1/models/half_plus_two:predict", PREDICT) + request("/v1/models/nope")
                       + request("/v1/models/half_plus_three:predict", b'{"instances": [1.0]}'))
    assert json.loads(reader.response()[2]) == PREDICTED
    assert reader.response()[0] == 404
    assert json.loads(reader.response()[2]) == {"predictions": [3.5]}


def test_http_1_0_gets_its_answer_then_the_connection_closes(connect):
    connection, reader = connect()
    connection.sendall(request("/v1/models/half_plus_two:predict", PREDICT, version="1.0"))
    status, headers, body = reader.response()
    assert (status, headers["connection"], json.loads(body)) == (200, "close", PREDICTED)
    assert reader.closed()


def test_expect_100_continue_is_honoured_and_refused_over_the_limit(connect):
    connection, reader = connect()
    head = request("/v1/models/half_plus_two:predict", PREDICT, headers={"Expect": "100-continue"})
    connection.sendall(head[:-len(PREDICT)])
    assert reader.file.readline() == b"HTTP/1.1 100 Continue\r\n" and reader.file.readline() == b"\r\n"
    connection.sendall(PREDICT)
    assert json.loads(reader.response()[2]) == PREDICTED

    too_large = ("POST /v1/models/half_plus_two:predict HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\n"
                 "Content-Length: 10000000\r\n\r\n").encode()
    connection, reader = connect()
    connection.sendall(too_large)  # and no body: the answer comes first
    status, headers, body = reader.response()
    assert status == 413 and headers["connection"] == "close"
    assert "exceeds the server's limit of 65536 bytes" in json.loads(body)["error"]
    assert reader.closed()


def test_chunked_bodies_percent_encoded_paths_and_query_strings(connect):
    connection, reader = connect()
    chunked = b"5\r\n" + PREDICT[:5] + b"\r\n" + f"{len(PREDICT) - 5:x}".encode() + b"\r\n" + PREDICT[5:] + b"\r\n0\r\n\r\n"
    connection.sendall(request("/v1/models/half%5Fplus%5Ftwo:predict?trace=1", chunked,
                               headers={"Transfer-Encoding": "chunked"}))
    assert json.loads(reader.response()[2]) == PREDICTED


@pytest.mark.parametrize("raw, status, words", [
    (b"NOT HTTP AT ALL\r\n\r\n", 400, "Malformed HTTP request"),
    (b"GET /v1/models/half_plus_two HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", 431, "headers exceed"),
], ids=["garbage", "huge-headers"])
def test_broken_http_gets_a_json_error_and_the_connection_closes(connect, raw, status, words):
    connection, reader = connect()
    connection.sendall(raw)
    got_status, _, body = reader.response()
    assert got_status == status and words in json.loads(body)["error"]
    assert reader.closed()
    assert_still_serving(connect)


def test_an_upgrade_request_is_answered_as_plain_http_then_closed(connect):
    connection, reader = connect()
    connection.sendall(b"GET /v1/models/half_plus_two HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
    status, _, body = reader.response()
    assert status == 200 and json.loads(body)["model_version_status"][0]["state"] == "AVAILABLE"
    assert reader.closed()


def test_a_client_vanishing_mid_body_leaves_the_server_serving(connect):
    connection, _ = connect()
    connection.sendall(request("/v1/models/half_plus_two:predict", PREDICT * 100)[:200])
    connection.close()
    assert_still_serving(connect)


def test_other_methods_are_malformed_requests(connect):
    connection, reader = connect()
    connection.sendall(b"DELETE /v1/models/half_plus_two HTTP/1.1\r\nHost: test\r\n\r\n")
    status, _, body = reader.response()
    assert status == 400 and json.loads(body) == {"error": "Malformed request: DELETE /v1/models/half_plus_two"}


@pytest.mark.parametrize("start, trickle", [
    (b"GET /v1/models/default HTTP/1.1\r\nHost: test\r\n", b"X"),  # headers a byte at a time
    (b"POST /v1/models/default:predict HTTP/1.1\r\nHost: test\r\nContent-Length: 100000\r\n\r\n", b" "),  # a body
], ids=["headers", "body"])
def test_a_client_trickling_its_request_is_answered_408_and_closed(start_server, testdata, start, trickle):
    """Slowloris: every byte refreshes the idle clock, but headers and body must arrive within
    --rest_api_read_timeout_seconds of the request's first byte."""
    server = start_server(f"--model_base_path={testdata / 'saved_model_half_plus_two_cpu'}",
                          "--rest_api_read_timeout_seconds=1", "--file_system_poll_wait_seconds=0")
    connection = socket.create_connection(("127.0.0.1", server.rest_port), timeout=30)
    connection.sendall(start)
    received, closed, deadline = b"", False, time.monotonic() + 60
    while not closed:
        assert time.monotonic() < deadline, "the server never closed a client trickling its request"
        try:
            connection.sendall(trickle)
        except (BrokenPipeError, ConnectionResetError):
            break
        if select.select([connection], [], [], 0.2)[0]:  # paces the trickle; returns as soon as there is an answer
            try:
                chunk = connection.recv(65536)
            except ConnectionResetError:
                chunk = b""
            received, closed = received + chunk, not chunk
    connection.close()
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), received
    assert "did not arrive within 1 seconds" in json.loads(body)["error"]
    with socket.create_connection(("127.0.0.1", server.rest_port), timeout=30) as fresh:
        fresh.sendall(request("/v1/models/default:predict", PREDICT))
        assert json.loads(Reader(fresh).response()[2]) == PREDICTED
