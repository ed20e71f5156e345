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
MODEL_PATH = re.compile(r"/v1/models/([^/:]+)(?:/versions/(-?\d+)|/labels/([^/:]+))?(/metadata)?(?::([a-zA-Z]+))?")
ENTRYPOINT = "REST"


class RestApi:
    """The request handler the HTTP server calls: routes, runs and answers every REST request."""

    def __init__(self, manager: ModelManager, inference: Inference, metrics: ServingMetrics):
        self.manager, self.inference, self.metrics = manager, inference, metrics

    async def __call__(self, request: Request) -> Response:
        if request.path == METRICS_PATH and request.method == "GET":
            return Response(200, self.metrics.page(), CONTENT_TYPE)
        match = MODEL_PATH.fullmatch(request.path)
        if match is None:
            return error_response(404, f"Malformed request: {request.method} {request.path}")
        name, version, label, metadata, verb = match.groups()
        version = int(version) if version else None
        if request.method == "GET":
            return self._get(request, name, version, label, metadata, verb)
        if request.method == "POST":
            return await self._post(request, name, version, label, metadata, verb)
        return error_response(400, f"Malformed request: {request.method} {request.path}")

    def _get(self, request: Request, name, version, label, metadata, verb) -> Response:
        try:
            if verb:
                raise ServingError("INVALID_ARGUMENT", f"Malformed request: GET {request.path}")
            if metadata:
                document = metadata_json(self.manager.get(name, version, label))
            else:
                document = to_json_dict(status_response(self.manager.states(name, version, label)))
        except ServingError as error:
            return _error(error)
        return Response(200, rest_codec.dumps(document))

    async def _post(self, request: Request, name, version, label, metadata, verb) -> Response:
        started, status = time.perf_counter(), "OK"
        try:
            if metadata or verb not in ("predict", "classify", "regress"):
                raise ServingError("INVALID_ARGUMENT", f"Malformed request: POST {request.path}")
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
            self.metrics.record_request(name, ENTRYPOINT, verb or "", status, time.perf_counter() - started)

    async def _predict(self, servable, body: bytes) -> dict:
        inputs = None
        numeric = fast_json.parse_numeric_request(body)
        if numeric is not None:
            key, values, signature_name = numeric
            signature = rest_signature(servable, signature_name)
            inputs, row_format = rest_codec.numeric_inputs(signature, values), key == "instances"
        if inputs is None:  # everything but one plain float array: the general, checking path
            request = rest_codec.parse_body(body)
            signature_name = request.get("signature_name")
            signature = rest_signature(servable, signature_name)
            inputs, row_format = rest_codec.predict_inputs(request, signature)
        outputs = await self.inference.predict_async(servable, signature_name or None, inputs)
        return rest_codec.predict_response(outputs, row_format)

    async def _classify_or_regress(self, verb: str, servable, request: dict) -> dict:
        signature_name = request.get("signature_name") or None
        examples = rest_codec.examples_from_json(request)
        run = self.inference.classify if verb == "classify" else self.inference.regress
        result = await self.inference.run_in_pool(run, servable, signature_name, examples)
        return rest_codec.classification_json(result) if verb == "classify" else rest_codec.regression_json(result)


def rest_signature(servable, signature_name):
    key = signature_name or "serving_default"
    if not isinstance(key, str):
        raise ServingError("INVALID_ARGUMENT", "'signature_name' must be a string")
    if key not in servable.signatures:  # the REST handler's own wording (GetInfoMap)
        raise ServingError("INVALID_ARGUMENT", f'Serving signature name: "{key}" not found in signature def')
    return servable.signatures[key]


def _error(error: ServingError) -> Response:
    return error_response(HTTP_STATUS.get(error.code, 500), error.message)
