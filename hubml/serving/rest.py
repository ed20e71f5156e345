"""TF Serving's REST API on tornado.

`/v1/models/{name}[/versions/{v}|/labels/{l}]` answers status (GET),
`.../metadata` (GET) and `:predict`, `:classify`, `:regress` (POST); errors
are `{"error": "..."}` with the HTTP status TF Serving maps each gRPC code
to. JSON decoding and array building run on the event loop (orjson and one
numpy call per input), the model call runs on the batcher or a thread pool.
"""
from __future__ import annotations

import re
import time

import tornado.web

from hubml.exceptions import ServingError
from hubml.serving import fast_json, rest_codec
from hubml.serving.inference import Inference
from hubml.serving.metrics import CONTENT_TYPE, METRICS_PATH, ServingMetrics
from hubml.serving.models import ModelManager
from hubml.serving.protos import metadata_json, status_response, to_json_dict

# TF Serving's http_server.cc ToHTTPStatusCode.
HTTP_STATUS = {
    "CANCELLED": 499, "UNKNOWN": 500, "INVALID_ARGUMENT": 400, "DEADLINE_EXCEEDED": 504, "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409, "PERMISSION_DENIED": 403, "RESOURCE_EXHAUSTED": 429, "FAILED_PRECONDITION": 400,
    "ABORTED": 409, "OUT_OF_RANGE": 400, "UNIMPLEMENTED": 501, "INTERNAL": 500, "UNAVAILABLE": 503,
    "DATA_LOSS": 500, "UNAUTHENTICATED": 401,
}
MODEL_PATH = r"/v1/models/([^/:]+)(?:/versions/(-?\d+)|/labels/([^/:]+))?(/metadata)?(?::([a-zA-Z]+))?"
ENTRYPOINT = "REST"


class _JsonHandler(tornado.web.RequestHandler):
    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json")

    def reply(self, status: int, body: bytes) -> None:
        self.set_status(status)
        self.finish(body)

    def reply_error(self, error: ServingError) -> None:
        self.reply(HTTP_STATUS.get(error.code, 500), rest_codec.dumps({"error": error.message}))

    def write_error(self, status_code: int, **kwargs) -> None:  # tornado's own failures, JSON too
        self.finish(rest_codec.dumps({"error": self._reason}))


@tornado.web.stream_request_body
class ModelHandler(_JsonHandler):
    """Every `/v1/models/...` request."""

    def initialize(self, manager: ModelManager, inference: Inference, metrics: ServingMetrics,
                   max_body_bytes: int) -> None:
        self.manager, self.inference, self.metrics = manager, inference, metrics
        self.max_body_bytes = max_body_bytes
        self._chunks: list[bytes] = []
        self._size = 0

    def prepare(self) -> None:
        declared = int(self.request.headers.get("Content-Length", 0) or 0)
        if declared > self.max_body_bytes:
            self._refuse_size(declared)
            raise tornado.web.Finish()

    def data_received(self, chunk: bytes) -> None:
        if self._finished:
            return
        self._size += len(chunk)
        if self._size > self.max_body_bytes:  # a chunked body that grew past the limit
            self._refuse_size(self._size)
            self._chunks.clear()
            return
        self._chunks.append(chunk)

    def _refuse_size(self, size: int) -> None:
        self.set_status(413)
        self.finish(rest_codec.dumps({"error": f"Request body of {size} bytes exceeds the server's limit of "
                                               f"{self.max_body_bytes} bytes"}))

    def get(self, name, version, label, metadata, verb) -> None:
        try:
            if verb:
                raise ServingError("INVALID_ARGUMENT", f"Malformed request: GET {self.request.path}")
            version = int(version) if version else None
            if metadata:
                document = metadata_json(self.manager.get(name, version, label))
            else:
                document = to_json_dict(status_response(self.manager.states(name, version, label)))
        except ServingError as error:
            self.reply_error(error)
            return
        self.reply(200, rest_codec.dumps(document))

    async def post(self, name, version, label, metadata, verb) -> None:
        if self._finished:  # refused while the body streamed in
            return
        started, status = time.perf_counter(), "OK"
        try:
            if metadata or verb not in ("predict", "classify", "regress"):
                raise ServingError("INVALID_ARGUMENT", f"Malformed request: POST {self.request.path}")
            servable = self.manager.get(name, int(version) if version else None, label)
            body = b"".join(self._chunks)
            if verb == "predict":
                document = await self._predict(servable, body)
            else:
                document = await self._classify_or_regress(verb, servable, rest_codec.parse_body(body))
            self.reply(200, rest_codec.dumps(document))
        except ServingError as error:
            status = error.code
            self.reply_error(error)
        finally:
            self.metrics.record_request(name, ENTRYPOINT, verb or "", status, time.perf_counter() - started)

    async def _predict(self, servable, body: bytes) -> dict:
        inputs = None
        numeric = fast_json.parse_numeric_request(body)
        if numeric is not None:
            key, values, signature_name = numeric
            signature = self.rest_signature(servable, signature_name)
            inputs, row_format = rest_codec.numeric_inputs(signature, values), key == "instances"
        if inputs is None:  # everything but one plain float array: the general, checking path
            request = rest_codec.parse_body(body)
            signature_name = request.get("signature_name")
            signature = self.rest_signature(servable, signature_name)
            inputs, row_format = rest_codec.predict_inputs(request, signature)
        outputs = await self.inference.predict_async(servable, signature_name or None, inputs)
        return rest_codec.predict_response(outputs, row_format)

    @staticmethod
    def rest_signature(servable, signature_name):
        key = signature_name or "serving_default"
        if not isinstance(key, str):
            raise ServingError("INVALID_ARGUMENT", "'signature_name' must be a string")
        if key not in servable.signatures:  # the REST handler's own wording (GetInfoMap)
            raise ServingError("INVALID_ARGUMENT", f'Serving signature name: "{key}" not found in signature def')
        return servable.signatures[key]

    async def _classify_or_regress(self, verb: str, servable, request: dict) -> dict:
        signature_name = request.get("signature_name") or None
        examples = rest_codec.examples_from_json(request)
        run = self.inference.classify if verb == "classify" else self.inference.regress
        result = await self.inference.run_in_pool(run, servable, signature_name, examples)
        return rest_codec.classification_json(result) if verb == "classify" else rest_codec.regression_json(result)


class MetricsHandler(tornado.web.RequestHandler):
    def initialize(self, metrics: ServingMetrics) -> None:
        self.metrics = metrics

    def get(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE)
        self.finish(self.metrics.page())


class NotFoundHandler(_JsonHandler):
    def prepare(self) -> None:
        self.reply(404, rest_codec.dumps({"error": f"Malformed request: {self.request.method} {self.request.path}"}))


def make_app(manager: ModelManager, inference: Inference, metrics: ServingMetrics,
             max_body_bytes: int) -> tornado.web.Application:
    handler_args = {"manager": manager, "inference": inference, "metrics": metrics, "max_body_bytes": max_body_bytes}
    return tornado.web.Application(
        [(MODEL_PATH, ModelHandler, handler_args), (re.escape(METRICS_PATH), MetricsHandler, {"metrics": metrics})],
        default_handler_class=NotFoundHandler,
        compress_response=False,
    )
