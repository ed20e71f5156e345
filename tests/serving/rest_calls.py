"""REST calls to a running `hubml serve` from the standard library, shared by the serving tests."""
from __future__ import annotations

import json
import urllib.error
import urllib.request


def call(server, path: str, body=None, method: str | None = None) -> tuple[int, dict]:
    """(HTTP status, JSON body) of one request; a dict or list body is sent as JSON, bytes as they are."""
    data = body if body is None or not isinstance(body, (dict, list)) else json.dumps(body).encode()
    request = urllib.request.Request(server.rest_url + path, data=data, method=method or ("POST" if data else "GET"))
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def ok(server, path: str, body=None) -> dict:
    status, document = call(server, path, body)
    assert status == 200, document
    return document
