"""`HubMLManager`: the sidebar's view of hubml, as JSON-ready dicts.

It knows nothing of HTTP (no tornado here): the handlers beside it turn a
request into one call and the answer into a response, and its tests need no
server. Every operation goes through `hubml.Client` and its handles, so the
sidebar sees exactly what the magics, the CLI and the widgets see.

The dict keys match the `IHubML*` interfaces in `labextension/src/model.ts`.
"""
from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from typing import TYPE_CHECKING, Any, Callable

from hubml.exceptions import HubMLError, InvalidArgument
from hubml.handles.endpoint import jsonable, split_request_body

if TYPE_CHECKING:
    from hubml.client import Client

LOG_PAGE_LINES = 1000
MAX_LOG_PAGE_LINES = 10000
FOLLOW_WAIT_SECONDS = 25.0
FOLLOW_POLL_SECONDS = 0.25


class HubMLManager:
    def __init__(self, client_factory: Callable[[], Client] | None = None, proxy_base: str | None = None):
        self._client_factory = client_factory
        self._client: Client | None = None
        # `{base_url}proxy/` when jupyter-server-proxy serves this server: how a browser behind the hub
        # reaches a TensorBoard or an endpoint on this machine's loopback.
        self.proxy_base = proxy_base

    def through_proxy(self, local_url: str) -> str:
        """A loopback URL as the browser reaches it: through the server's proxy where there is one."""
        if not self.proxy_base:
            return local_url
        parsed = urllib.parse.urlsplit(local_url)
        return f"{self.proxy_base.rstrip('/')}/{parsed.port}{parsed.path or '/'}"

    @property
    def client(self) -> Client:
        """Built on first use, so a misconfigured backend fails a request, not the server's start."""
        if self._client is None:
            if self._client_factory is None:
                from hubml.client import Client

                self._client_factory = Client
            self._client = self._client_factory()
        return self._client

    # --- jobs ---------------------------------------------------------------------

    def jobs(self) -> dict[str, Any]:
        """Every job of this user, newest first."""
        return {"jobs": [job.to_json() for job in reversed(self.client.jobs())]}

    def job(self, job_id: str) -> dict[str, Any]:
        """One job with all the metrics it reported so far."""
        job = self.client.job(job_id)
        return {**job.to_json(), "metrics": job.metrics()}

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self.client.cancel(job_id).to_json()

    def logs(self, job_id: str, cursor: dict | None = None, limit: int = LOG_PAGE_LINES) -> dict[str, Any]:
        """One page of log lines after `cursor`; pass the answer's `cursor` back for the next page.

        `final` is read before the lines, so when it is true the page holds every
        line the job wrote after `cursor` (up to `limit`; `more` says there are more).
        """
        limit = check_limit(limit)
        job = self.client.job(job_id)
        final = job.done
        lines, more = [], False
        for line in job.logs(cursor=cursor):
            if len(lines) == limit:
                more = True
                break
            lines.append({"attempt": line.attempt, "role": line.role, "index": line.index, "text": line.text})
            cursor = line.cursor
        return {"lines": lines, "cursor": cursor or {}, "final": final and not more, "more": more}

    async def follow_logs(self, job_id: str, cursor: dict | None = None, limit: int = LOG_PAGE_LINES,
                          wait: float = FOLLOW_WAIT_SECONDS) -> dict[str, Any]:
        """Long-poll: the next page as soon as it has a line or the job is final, else an empty page after `wait` s."""
        deadline = time.monotonic() + wait
        while True:
            page = await asyncio.to_thread(self.logs, job_id, cursor, limit)
            if page["lines"] or page["final"] or time.monotonic() >= deadline:
                return page
            await asyncio.sleep(FOLLOW_POLL_SECONDS)

    def tensorboard(self, job_id: str) -> dict[str, Any]:
        """Start (or find) TensorBoard over the job's event files; {'url': ...} for the browser to open."""
        board = self.client.job(job_id).tensorboard()
        url = board.url if board.url != board.local_url else self.through_proxy(board.local_url)
        return {"job": job_id, "url": url, "runs": list(board.runs)}

    # --- quota ----------------------------------------------------------------------

    def quota(self) -> dict[str, Any]:
        """Used against allowed per resource (local capacity or the namespace quota), and the queued jobs
        counted by what they wait for."""
        return {"resources": self.client.quota(), "queued": self.client.queue()}

    # --- endpoints ----------------------------------------------------------------

    def endpoints(self) -> dict[str, Any]:
        """Each endpoint with, once it serves, its traffic, an example request and its browser address."""
        return {"endpoints": [self._endpoint_view(endpoint) for endpoint in self.client.endpoints()]}

    def _endpoint_view(self, endpoint: Any) -> dict[str, Any]:
        view = {**endpoint.to_json(), "traffic": None, "example": None, "browser_url": None}
        if view["state"] != "READY":
            return view
        view["browser_url"] = self.through_proxy(endpoint.predict_url)
        try:
            view["traffic"] = endpoint.traffic()
            view["example"] = endpoint.example_request()
        except (HubMLError, OSError) as error:  # a server restarting: the row shows why, the list still loads
            view["reason"] = f"metrics or metadata unavailable: {error}"
        return view

    # --- the model registry ---------------------------------------------------------

    def models(self) -> dict[str, Any]:
        """The models in storage: each version's producing job, final metrics and serving endpoints."""
        return {"models": self.client.models()}

    def deploy(self, body: dict[str, Any]) -> dict[str, Any]:
        """Serve a job's exported model: {'job': id, 'name': endpoint name (default: the client's)}.

        Returns the new endpoint at once (PENDING); the sidebar's polling sees it become READY or FAILED.
        """
        job = self.client.job(require(body, "job", str))
        name = body.get("name") or None
        if name is not None and not isinstance(name, str):
            raise InvalidArgument("name", "must be a string")
        return self.client.deploy(job, name=name, wait=False).to_json()

    def undeploy(self, name: str) -> dict[str, Any]:
        self.client.undeploy(name)
        return {"name": name, "undeployed": True}

    def predict(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """TF Serving's REST predict, through the endpoint handle: row ('instances') in, 'predictions' out;
        columnar ('inputs') in, 'outputs' out."""
        if not isinstance(body, dict) or not ({"instances", "inputs"} & body.keys()):
            raise InvalidArgument("body", 'send TF Serving\'s predict JSON: {"instances": [...]} or {"inputs": ...}')
        instances, signature = split_request_body(body)
        result = self.client.endpoint(name).predict(instances, signature_name=signature)
        return {"predictions" if "instances" in body else "outputs": jsonable(result)}

    # --- sweeps -------------------------------------------------------------------

    def sweeps(self) -> dict[str, Any]:
        """Each sweep with its trials' final metrics, for the sidebar's comparison table."""
        return {"sweeps": [self._sweep_view(sweep) for sweep in self.client.sweeps()]}

    def _sweep_view(self, sweep: Any) -> dict[str, Any]:
        from hubml.registry import final_metrics

        view = sweep.to_json()
        for trial in view["trials"]:
            trial["metrics"] = final_metrics(self.client.job(trial["job_id"]).metrics()) if trial["job_id"] else {}
        return view

    def sweep(self, sweep_id: str) -> dict[str, Any]:
        return self.client.sweep(sweep_id).to_json()


def parse_cursor(text: str | None) -> dict | None:
    """The `cursor` query argument: the JSON object a previous page returned."""
    if not text:
        return None
    try:
        cursor = json.loads(text)
    except ValueError:
        raise InvalidArgument("cursor", "is not JSON: pass back the 'cursor' object of the previous page") from None
    if not isinstance(cursor, dict):
        raise InvalidArgument("cursor", "must be the JSON object of the previous page's 'cursor'")
    return cursor


def check_limit(limit: Any) -> int:
    if isinstance(limit, str):
        limit = int(limit) if limit.isdigit() else None
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LOG_PAGE_LINES:
        raise InvalidArgument("limit", f"must be a whole number from 1 to {MAX_LOG_PAGE_LINES}")
    return limit


def require(body: Any, key: str, kind: type) -> Any:
    """A field of a JSON request body, of the expected type."""
    if not isinstance(body, dict) or not isinstance(body.get(key), kind) or not body.get(key):
        raise InvalidArgument(key, f"the request body needs a non-empty {kind.__name__} {key!r}")
    return body[key]
