"""TF Serving's REST API, served by `hubml.serving.http`.

`/v1/models/{name}[/versions/{v}|/labels/{l}]` answers status (GET),
`.../metadata` (GET) and `:predict`, `:classify`, `:regress` (POST); errors
are `{"error": "..."}` with the HTTP status TF Serving maps each gRPC code
to. JSON decoding and array building run on the event loop (orjson and one
numpy call per input), the model call runs on the batcher, inline when the
signature is quick, or on a thread pool (`Inference.predict_async`).
"""
from __future__ import annotations

import re
import time
from urllib.parse import unquote

from hubml.exceptions import ServingError
from hubml.serving import fast_json, rest_codec
from hubml.serving.http import Request, Response, error_response
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
# TF Serving's routes (http_rest_api_util.cc), case-insensitive as there: anything else under /v1/ is a
# malformed request (400); paths outside /v1/ are no REST API at all (404).
POST_PATH = re.compile(r"(?i)/v1/models/([^/:]+)(?:/versions/(\d+)|/labels/([^/:]+))?:(classify|regress|predict)")
GET_PATH = re.compile(r"(?i)/v1/models(?:/([^/:]+))?(?:/versions/(\d+)|/labels/([^/:]+))?(?:/(metadata))?")
ROUTES = {"GET": GET_PATH, "POST": POST_PATH}
API_PREFIX = re.compile(r"(?i)/v1/")
MAX_VERSION = 2**63 - 1
ENTRYPOINT = "REST"


class RestApi:
    """The request handler the HTTP server calls: routes, runs and answers every REST request."""

    def __init__(self, manager: ModelManager, inference: Inference, metrics: ServingMetrics):
        self.manager, self.inference, self.metrics = manager, inference, metrics

    async def __call__(self, request: Request) -> Response:
        if request.path == METRICS_PATH and request.method == "GET":
            return Response(200, self.metrics.page(), CONTENT_TYPE)
        if not API_PREFIX.match(request.path):
            return error_response(404, f"Not found: {request.method} {request.path}")
        pattern = ROUTES.get(request.method)
        match = pattern.fullmatch(request.path) if pattern else None
        if match is None:
            return _error(_malformed(request))
        try:
            name, version, label = _model_info(*match.groups()[:3])
        except ServingError as error:
            return _error(error)
        if request.method == "GET":
            return self._get(name, version, label, match.group(4))
        return await self._post(request, name, version, label, match.group(4))

    def _get(self, name: str | None, version: int | None, label: str | None, subresource: str | None) -> Response:
        try:
            if not name:
                raise ServingError("INVALID_ARGUMENT", "Missing model name in request.")
            if subresource == "metadata":  # compared as written, as TF Serving does: /METADATA asks for status
                document = metadata_json(self.manager.get(name, version, label))
            else:
                document = to_json_dict(status_response(self.manager.states(name, version, label)))
        except ServingError as error:
            return _error(error)
        return Response(200, rest_codec.dumps(document))

    async def _post(self, request: Request, name: str, version: int | None, label: str | None, verb: str) -> Response:
        started, status = time.perf_counter(), "OK"
        try:
            if verb not in ("predict", "classify", "regress"):  # matched case-insensitively, compared exactly
                raise _malformed(request)
            servable = self.manager.get(name, version, label)
            if verb == "predict":
                document = await self._predict(servable, request.body)
            else:
                document = await self._classify_or_regress(verb, servable, rest_codec.parse_body(request.body))
            return Response(200, rest_codec.dumps(document))
        except ServingError as error:
            status = error.code
            return _error(error)
        finally:
            self.metrics.record_request(name, ENTRYPOINT, verb, status, time.perf_counter() - started)

    async def _predict(self, servable, body: bytes) -> dict:
        inputs = None
        numeric = fast_json.parse_numeric_request(body)
        if numeric is not None:
            key, values, signature_name = numeric
            signature = rest_signature(servable, signature_name)
            inputs, row_format = rest_codec.numeric_inputs(signature, values), key == "instances"
        if inputs is None:  # everything but one plain float array: the general, checking path
            request = rest_codec.parse_body(body)
            signature_name = rest_codec.signature_name_of(request)
            signature = rest_signature(servable, signature_name)
            inputs, row_format = rest_codec.predict_inputs(request, signature, signature_name)
        outputs = await self.inference.predict_async(servable, signature_name or None, inputs)
        return rest_codec.predict_response(outputs, row_format)

    async def _classify_or_regress(self, verb: str, servable, request: dict) -> dict:
        signature_name = rest_codec.signature_name_of(request)
        examples = rest_codec.examples_from_json(request)
        run = self.inference.classify if verb == "classify" else self.inference.regress
        result = await self.inference.run_in_pool(run, servable, signature_name, examples)
        return rest_codec.classification_json(result) if verb == "classify" else rest_codec.regression_json(result)


def _model_info(name: str | None, version: str | None, label: str | None) -> tuple[str | None, int | None, str | None]:
    """The percent-decoded model name and label, and the version as a number (http_rest_api_util.cc ParseModelInfo)."""
    if version is not None and int(version) > MAX_VERSION:
        raise ServingError("INVALID_ARGUMENT", f"Failed to convert version: {version} to numeric.")
    return (unquote(name) if name else None, int(version) if version is not None else None,
            unquote(label) if label else None)


def _malformed(request: Request) -> ServingError:
    """What TF Serving's handler answers when no route takes the request (its default status)."""
    return ServingError("INVALID_ARGUMENT", f"Malformed request: {request.method} {request.path}")


def rest_signature(servable, signature_name):
    key = signature_name or "serving_default"
    if key not in servable.signatures:  # the REST handler's own wording (GetInfoMap)
        raise ServingError("INVALID_ARGUMENT", f'Serving signature name: "{key}" not found in signature def')
    return servable.signatures[key]


def _error(error: ServingError) -> Response:
    return error_response(HTTP_STATUS.get(error.code, 500), error.message)
