"""The predict client: one API over TF Serving's gRPC and REST protocols.

It speaks only what TF Serving itself serves, so it works unchanged against
`hubml serve` and the official `tensorflow/serving` image. Inputs are cast
to the dtypes the signature declares (read once from the model's metadata),
as `tf.make_tensor_proto` users do by hand. Every refusal becomes a
`ServingError` carrying the server's status code and error text.

REST calls never import TensorFlow (only numpy, orjson and the standard
library), so a notebook without TensorFlow can call a model over REST.

`predict` returns one numpy array when the signature has one output (or one
was asked for with `output_filter`), otherwise a dict of arrays.
"""
from __future__ import annotations

import base64
import http.client
import threading
import urllib.parse

import numpy as np
import orjson

from hubml.exceptions import InvalidArgument, ServingError
from hubml.quiet_tensorflow import import_tensorflow
from hubml.serving.dtypes import numpy_dtype_of

PROTOCOLS = ("grpc", "rest")
_CODE_OF_HTTP = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                 409: "ABORTED", 413: "RESOURCE_EXHAUSTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED",
                 501: "UNIMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


class PredictClient:
    """Calls one model on a TF-Serving-compatible server over gRPC (`host:port`) and/or REST (`http://host:port`)."""

    def __init__(self, grpc_target: str | None, rest_url: str | None, model_name: str, timeout: float = 30.0):
        if not grpc_target and not rest_url:
            raise InvalidArgument("PredictClient", "give a gRPC target, a REST URL or both")
        self.grpc_target, self.model_name, self.timeout = grpc_target, model_name, timeout
        self.rest_url = rest_url.rstrip("/") if rest_url else None
        self._channel = self._stubs = None
        self._stubs_lock = threading.Lock()
        self._local = threading.local()
        self._signatures: dict[tuple, dict] = {}

    # ---- public API -------------------------------------------------------------------------------
    def predict(self, instances_or_inputs, signature_name: str | None = None, version: int | None = None,
                version_label: str | None = None, protocol: str = "grpc", output_filter: list[str] | None = None):
        """Run a predict signature on an array (single-input signatures) or a dict of named arrays."""
        protocol = self._protocol(protocol)
        signature = self._signature(signature_name, version, version_label, protocol)
        inputs = self._named_inputs(instances_or_inputs, signature)
        if protocol == "grpc":
            outputs = self._grpc_predict(inputs, signature, signature_name, version, version_label, output_filter)
        else:
            outputs = self._rest_predict(inputs, signature, signature_name, version, version_label, output_filter)
        return next(iter(outputs.values())) if len(outputs) == 1 else outputs

    def classify(self, examples: list[dict], signature_name: str | None = None, version: int | None = None,
                 version_label: str | None = None, protocol: str = "grpc") -> list[list[tuple[str, float]]]:
        """Per example, its (label, score) pairs."""
        if self._protocol(protocol) == "rest":
            body = self._rest_examples("classify", examples, signature_name, version, version_label)
            return [[(label, float(score)) for label, score in row] for row in body["results"]]
        from tensorflow_serving.apis import classification_pb2

        request = classification_pb2.ClassificationRequest()
        self._fill_example_request(request, examples, signature_name, version, version_label)
        result = self._grpc_call("Classify", request).result
        return [[(item.label, item.score) for item in row.classes] for row in result.classifications]

    def regress(self, examples: list[dict], signature_name: str | None = None, version: int | None = None,
                version_label: str | None = None, protocol: str = "grpc") -> np.ndarray:
        """One value per example."""
        if self._protocol(protocol) == "rest":
            body = self._rest_examples("regress", examples, signature_name, version, version_label)
            return np.asarray(body["results"], dtype=np.float32)
        from tensorflow_serving.apis import regression_pb2

        request = regression_pb2.RegressionRequest()
        self._fill_example_request(request, examples, signature_name, version, version_label)
        result = self._grpc_call("Regress", request).result
        return np.asarray([item.value for item in result.regressions], dtype=np.float32)

    def metadata(self, version: int | None = None, version_label: str | None = None, protocol: str = "grpc") -> dict:
        """The model's metadata in TF Serving's REST JSON form (`model_spec`, `metadata.signature_def`)."""
        if self._protocol(protocol) == "rest":
            return self._rest("GET", self._rest_path(version, version_label) + "/metadata")
        from tensorflow_serving.apis import get_model_metadata_pb2

        from hubml.serving.protos import SIGNATURE_DEF_FIELD, to_json_dict

        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=[SIGNATURE_DEF_FIELD])
        self._fill_spec(request.model_spec, None, version, version_label)
        response = self._grpc_call("GetModelMetadata", request)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata[SIGNATURE_DEF_FIELD].Unpack(signature_map)
        return {"model_spec": to_json_dict(response.model_spec),
                "metadata": {SIGNATURE_DEF_FIELD: to_json_dict(signature_map)}}

    def status(self, version: int | None = None, version_label: str | None = None,
               protocol: str = "grpc") -> list[dict]:
        """Each version's `{version, state, status: {error_code, error_message}}`, as TF Serving reports them."""
        if self._protocol(protocol) == "rest":
            return self._rest("GET", self._rest_path(version, version_label))["model_version_status"]
        from tensorflow_serving.apis import get_model_status_pb2

        from hubml.serving.protos import to_json_dict

        request = get_model_status_pb2.GetModelStatusRequest()
        self._fill_spec(request.model_spec, None, version, version_label)
        return to_json_dict(self._grpc_call("GetModelStatus", request, service="model"))["model_version_status"]

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = self._stubs = None

    def __enter__(self) -> PredictClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- inputs and signatures --------------------------------------------------------------------
    def _protocol(self, protocol: str) -> str:
        if protocol not in PROTOCOLS:
            raise InvalidArgument("protocol", f"expected one of {PROTOCOLS}, got {protocol!r}")
        if (self.grpc_target if protocol == "grpc" else self.rest_url) is None:
            raise InvalidArgument("protocol", f"this client has no {protocol} address")
        if protocol == "grpc":  # TF Serving's protos import TensorFlow: keep its start-up lines out of the cell
            import_tensorflow()
        return protocol

    def _signature(self, signature_name, version, version_label, protocol: str) -> dict:
        """The signature's JSON form from the model's metadata, cached per version choice."""
        key = (signature_name or "serving_default", version, version_label)
        if key not in self._signatures:
            signatures = self.metadata(version, version_label, protocol)["metadata"]["signature_def"]["signature_def"]
            if key[0] not in signatures:
                raise ServingError("FAILED_PRECONDITION", f'Serving signature key "{key[0]}" not found.')
            self._signatures[key] = signatures[key[0]]
        return self._signatures[key]

    @staticmethod
    def _named_inputs(value, signature: dict) -> dict[str, np.ndarray]:
        names = list(signature["inputs"])
        if not isinstance(value, dict):
            if len(names) != 1:
                raise InvalidArgument("inputs", f"the signature takes {len(names)} inputs {sorted(names)}: pass a dict")
            value = {names[0]: value}
        arrays = {}
        for name, item in value.items():
            info = signature["inputs"].get(name)
            dtype = numpy_dtype_of(info["dtype"]) if info else None
            try:
                arrays[name] = np.asarray(item, dtype=dtype) if dtype is not None and dtype != object \
                    else np.asarray(item)
            except (TypeError, ValueError) as error:  # e.g. words for a float input, or ragged rows
                raise InvalidArgument("inputs", f"{name!r} cannot be sent as {info['dtype']}: {error}") from None
        return arrays

    # ---- gRPC -----------------------------------------------------------------------------------------
    def _grpc_call(self, method: str, request, service: str = "prediction"):
        import grpc

        try:
            return getattr(self._grpc_stubs()[service], method)(request, timeout=self.timeout)
        except grpc.RpcError as error:
            raise ServingError(error.code().name, error.details() or str(error)) from None

    def _grpc_stubs(self) -> dict:
        with self._stubs_lock:  # one channel per client, however many threads call it
            if self._stubs is None:
                from hubml.extras import require

                require("serve", "the predict client over gRPC")
                import grpc
                from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

                self._channel = grpc.insecure_channel(self.grpc_target, options=[
                    ("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)])
                self._stubs = {"prediction": prediction_service_pb2_grpc.PredictionServiceStub(self._channel),
                               "model": model_service_pb2_grpc.ModelServiceStub(self._channel)}
            return self._stubs

    def _fill_spec(self, spec, signature_name, version, version_label) -> None:
        spec.name = self.model_name
        if signature_name:
            spec.signature_name = signature_name
        if version is not None:
            spec.version.value = int(version)
        elif version_label:
            spec.version_label = version_label

    def _grpc_predict(self, inputs, signature, signature_name, version, version_label, output_filter):
        from tensorflow.core.framework import types_pb2
        from tensorflow_serving.apis import predict_pb2

        from hubml.serving.tensors import from_ndarray, to_ndarray

        request = predict_pb2.PredictRequest(output_filter=output_filter or [])
        self._fill_spec(request.model_spec, signature_name, version, version_label)
        for name, array in inputs.items():
            info = signature["inputs"].get(name)
            request.inputs[name].CopyFrom(from_ndarray(array, types_pb2.DataType.Value(info["dtype"]) if info else None))
        response = self._grpc_call("Predict", request)
        return {name: to_ndarray(proto) for name, proto in sorted(response.outputs.items())}

    def _fill_example_request(self, request, examples, signature_name, version, version_label) -> None:
        from hubml.serving.rest_codec import example_from_features

        self._fill_spec(request.model_spec, signature_name, version, version_label)
        for features in examples:
            request.input.example_list.examples.add().CopyFrom(example_from_features(features))

    # ---- REST -----------------------------------------------------------------------------------------
    def _rest_path(self, version, version_label) -> str:
        path = f"/v1/models/{urllib.parse.quote(self.model_name, safe='')}"
        if version is not None:
            return f"{path}/versions/{int(version)}"
        return f"{path}/labels/{urllib.parse.quote(version_label, safe='')}" if version_label else path

    def _rest(self, method: str, path: str, body: dict | None = None) -> dict:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            parsed = urllib.parse.urlsplit(self.rest_url)
            connection = http.client.HTTPConnection(parsed.hostname, parsed.port or 80, timeout=self.timeout)
            self._local.connection = connection
        payload = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY) if body is not None else None
        try:
            connection.request(method, path, body=payload, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            self._local.connection = None
            raise ServingError("UNAVAILABLE", f"{self.rest_url}{path}: {error}") from None
        try:
            document = orjson.loads(data) if data else {}
        except orjson.JSONDecodeError:
            document = {"error": data.decode(errors="replace")}
        if response.status != 200:
            message = document.get("error", "") if isinstance(document, dict) else str(document)
            raise ServingError(_CODE_OF_HTTP.get(response.status, "INTERNAL" if response.status >= 500 else "UNKNOWN"),
                               message or f"HTTP {response.status}")
        return document

    def _rest_predict(self, inputs, signature, signature_name, version, version_label, output_filter):
        body: dict = {"inputs": {name: _jsonable(array) for name, array in inputs.items()}}
        if signature_name:
            body["signature_name"] = signature_name
        document = self._rest("POST", self._rest_path(version, version_label) + ":predict", body)
        names = sorted(output_filter or signature["outputs"])
        outputs = document["outputs"] if len(signature["outputs"]) > 1 else {names[0]: document["outputs"]}
        return {name: _from_json(outputs[name], signature["outputs"].get(name, {}).get("dtype"))
                for name in names if name in outputs}

    def _rest_examples(self, verb, examples, signature_name, version, version_label) -> dict:
        body: dict = {"examples": [{k: _jsonable_feature(v) for k, v in example.items()} for example in examples]}
        if signature_name:
            body["signature_name"] = signature_name
        return self._rest("POST", self._rest_path(version, version_label) + f":{verb}", body)


def _jsonable(array: np.ndarray):
    if array.dtype == object or array.dtype.kind in "SU":
        return [_jsonable(item) for item in array] if array.ndim else _jsonable_feature(array.item())
    return array if array.flags.c_contiguous else np.ascontiguousarray(array)


def _jsonable_feature(value):
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode()}
    if isinstance(value, list):
        return [_jsonable_feature(item) for item in value]
    return value


def _from_json(value, dtype_name: str | None) -> np.ndarray:
    if dtype_name == "DT_STRING":
        return np.asarray(_strings_from_json(value), dtype=object)
    return np.asarray(value, dtype=numpy_dtype_of(dtype_name) if dtype_name else None)


def _strings_from_json(value):
    if isinstance(value, list):
        return [_strings_from_json(item) for item in value]
    if isinstance(value, dict) and "b64" in value:
        return base64.b64decode(value["b64"])
    return value.encode() if isinstance(value, str) else value
