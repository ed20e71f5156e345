"""Thin, authenticated tornado handlers over `HubMLManager`, under `{base_url}hubml/api/`.

Each handler turns a request into one manager call. A hubml error becomes a
JSON error with the right status (`NotFound` 404, `InvalidArgument` 400, a
model server's `ServingError` by its code, `BackendError` 503); anything else is a real bug and
is left to surface as one.
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


class HubMLHandler(APIHandler):
    @property
    def manager(self) -> HubMLManager:
        return self.settings["hubml_manager"]

    async def answer(self, call: Callable[..., Any], *args: Any, status: int = 200) -> None:
        """Run a manager call and write its dict as JSON, hubml errors as JSON errors.

        Sync calls run in a worker thread: a backend may take seconds (a cancel
        waits for the job's processes to stop) and the server's loop must not.
        """
        try:
            if inspect.iscoroutinefunction(call):
                result = await call(*args)
            else:
                result = await asyncio.to_thread(call, *args)
        except NotFound as error:
            raise tornado.web.HTTPError(404, str(error)) from error
        except InvalidArgument as error:
            raise tornado.web.HTTPError(400, str(error)) from error
        except ServingError as error:
            raise tornado.web.HTTPError(SERVING_STATUS.get(error.code, 502), str(error)) from error
        except BackendError as error:  # the cluster or a process hubml starts (TensorBoard) refused
            raise tornado.web.HTTPError(503, str(error)) from error
        self.set_status(status)
        self.finish(json.dumps(result))

    def json_body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise tornado.web.HTTPError(400, "the request body is not JSON") from None
        if not isinstance(body, dict):
            raise tornado.web.HTTPError(400, "the request body must be a JSON object")
        return body


class JobsHandler(HubMLHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(self.manager.jobs)


class JobHandler(HubMLHandler):
    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        await self.answer(self.manager.job, name)

    @tornado.web.authenticated
    async def delete(self, name: str) -> None:
        await self.answer(self.manager.cancel, name)


class CancelHandler(HubMLHandler):
    @tornado.web.authenticated
    async def post(self, name: str) -> None:
        await self.answer(self.manager.cancel, name)


class LogsHandler(HubMLHandler):
    """`?cursor=<JSON>&limit=N` pages; `&follow=1` long-polls until a line comes or the job ends."""

    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        limit = self.get_argument("limit", "1000")
        await self.answer(self._page, name, self.get_argument("cursor", ""), limit)

    async def _page(self, name: str, cursor: str, limit: str) -> dict[str, Any]:
        if self.get_argument("follow", "").lower() in TRUE:
            return await self.manager.follow_logs(name, parse_cursor(cursor), limit)
        return await asyncio.to_thread(self.manager.logs, name, parse_cursor(cursor), limit)


class TensorBoardHandler(HubMLHandler):
    @tornado.web.authenticated
    async def post(self, name: str) -> None:
        await self.answer(self.manager.tensorboard, name)


class EndpointsHandler(HubMLHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(self.manager.endpoints)

    @tornado.web.authenticated
    async def post(self) -> None:
        await self.answer(self.manager.deploy, self.json_body(), status=201)


class EndpointHandler(HubMLHandler):
    @tornado.web.authenticated
    async def delete(self, name: str) -> None:
        await self.answer(self.manager.undeploy, name)


class PredictHandler(HubMLHandler):
    @tornado.web.authenticated
    async def post(self, name: str) -> None:
        await self.answer(self.manager.predict, name, self.json_body())


class SweepsHandler(HubMLHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(self.manager.sweeps)


class SweepHandler(HubMLHandler):
    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        await self.answer(self.manager.sweep, name)


ROUTES = [
    ("jobs", JobsHandler),
    (f"jobs/{NAME}", JobHandler),
    (f"jobs/{NAME}/cancel", CancelHandler),
    (f"jobs/{NAME}/logs", LogsHandler),
    (f"jobs/{NAME}/tensorboard", TensorBoardHandler),
    ("endpoints", EndpointsHandler),
    (f"endpoints/{NAME}", EndpointHandler),
    (f"endpoints/{NAME}/predict", PredictHandler),
    ("sweeps", SweepsHandler),
    (f"sweeps/{NAME}", SweepHandler),
]


def setup_handlers(web_app: tornado.web.Application, manager: HubMLManager) -> None:
    web_app.settings["hubml_manager"] = manager
    api = url_path_join(web_app.settings["base_url"], "hubml", "api")
    web_app.add_handlers(".*$", [(url_path_join(api, path) + "/?$", handler) for path, handler in ROUTES])
