"""Thin, authenticated tornado handlers over `HubMLManager`, under `{base_url}hubml/api/`.

`ROUTES` is the whole API: each path maps HTTP methods to one manager call;
methods a path does not list answer 405. A hubml error becomes a JSON error
with the right status (`NotFound` 404, `InvalidArgument` 400, a model
server's `ServingError` by its code, `BackendError` 503); anything else is a
real bug and is left to surface as one.
"""
from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any, Callable

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from hubml.exceptions import BackendError, InvalidArgument, NotFound, ServingError
from hubml.extension.server.manager import HubMLManager, parse_cursor

# Any path segment: the client validates ids and names, and answers 400 with why.
NAME = r"(?P<name>[^/]+)"
TRUE = {"1", "true", "yes"}
# A model server's refusal, by TF Serving's gRPC code: the caller's fault (4xx) or the server's (5xx).
SERVING_STATUS = {"INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "NOT_FOUND": 404, "UNAVAILABLE": 503}

Call = Callable[..., Any]  # (handler, *path arguments) -> a JSON-ready dict, or a coroutine of one


class RouteHandler(APIHandler):
    """One path of the API: its `calls` map HTTP methods to manager calls."""

    def initialize(self, calls: dict[str, Call], created: tuple[str, ...] = ()) -> None:
        self.calls = calls
        self.created = created  # methods that answer 201 Created

    @property
    def manager(self) -> HubMLManager:
        return self.settings["hubml_manager"]

    @tornado.web.authenticated
    async def get(self, **path: str) -> None:
        await self.answer("GET", path)

    @tornado.web.authenticated
    async def post(self, **path: str) -> None:
        await self.answer("POST", path)

    @tornado.web.authenticated
    async def delete(self, **path: str) -> None:
        await self.answer("DELETE", path)

    async def answer(self, method: str, path: dict[str, str]) -> None:
        """Run the call in a worker thread and write its dict as JSON, hubml errors as JSON errors.

        A thread, because a backend may take seconds (a cancel waits for the
        job's processes to stop) and the server's loop must not; a call that
        returns a coroutine (a long-polled log page) is then awaited on the loop.
        """
        if method not in self.calls:
            raise tornado.web.HTTPError(405, f"{method} is not allowed here")
        try:
            result = await asyncio.to_thread(self.calls[method], self, *path.values())
            if inspect.isawaitable(result):
                result = await result
        except NotFound as error:
            raise tornado.web.HTTPError(404, str(error)) from error
        except InvalidArgument as error:
            raise tornado.web.HTTPError(400, str(error)) from error
        except ServingError as error:
            raise tornado.web.HTTPError(SERVING_STATUS.get(error.code, 502), str(error)) from error
        except BackendError as error:  # the cluster or a process hubml starts (TensorBoard) refused
            raise tornado.web.HTTPError(503, str(error)) from error
        self.set_status(201 if method in self.created else 200)
        self.finish(json.dumps(result))

    def json_body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise InvalidArgument("body", "the request body is not JSON") from None
        if not isinstance(body, dict):
            raise InvalidArgument("body", "the request body must be a JSON object")
        return body


def log_page(handler: RouteHandler, name: str) -> Any:
    """`?cursor=<JSON>&limit=N` pages; `&follow=1` long-polls until a line comes or the job ends."""
    cursor = parse_cursor(handler.get_argument("cursor", ""))
    limit = handler.get_argument("limit", "1000")
    if handler.get_argument("follow", "").lower() in TRUE:
        return handler.manager.follow_logs(name, cursor, limit)
    return handler.manager.logs(name, cursor, limit)


def route(path: str, created: tuple[str, ...] = (), **calls: Call) -> tuple[str, type, dict[str, Any]]:
    return path, RouteHandler, {"calls": calls, "created": created}


ROUTES = [
    route("jobs", GET=lambda handler: handler.manager.jobs()),
    route(f"jobs/{NAME}", GET=lambda handler, name: handler.manager.job(name),
          DELETE=lambda handler, name: handler.manager.cancel(name)),
    route(f"jobs/{NAME}/cancel", POST=lambda handler, name: handler.manager.cancel(name)),
    route(f"jobs/{NAME}/logs", GET=log_page),
    route(f"jobs/{NAME}/tensorboard", POST=lambda handler, name: handler.manager.tensorboard(name)),
    route("endpoints", created=("POST",), GET=lambda handler: handler.manager.endpoints(),
          POST=lambda handler: handler.manager.deploy(handler.json_body())),
    route(f"endpoints/{NAME}", DELETE=lambda handler, name: handler.manager.undeploy(name)),
    route(f"endpoints/{NAME}/predict",
          POST=lambda handler, name: handler.manager.predict(name, handler.json_body())),
    route("quota", GET=lambda handler: handler.manager.quota()),
    route("models", GET=lambda handler: handler.manager.models()),
    route("sweeps", GET=lambda handler: handler.manager.sweeps()),
    route(f"sweeps/{NAME}", GET=lambda handler, name: handler.manager.sweep(name)),
]


def setup_handlers(web_app: tornado.web.Application, manager: HubMLManager) -> None:
    web_app.settings["hubml_manager"] = manager
    api = url_path_join(web_app.settings["base_url"], "hubml", "api")
    web_app.add_handlers(".*$", [(url_path_join(api, path) + "/?$", handler, options)
                                 for path, handler, options in ROUTES])
