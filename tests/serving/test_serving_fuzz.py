"""No input gets a 500: random JSON, bytes and paths at every REST route, random messages at every gRPC method.

Each example goes to a running `hubml serve` with TF Serving's test models. The property is TF Serving's
contract for a refusal: REST answers with a status TF Serving maps a gRPC code to (never 500) and a
`{"error": "..."}` body, on a connection that stays usable; gRPC answers OK or a status TF Serving itself
uses for bad requests, never UNKNOWN (an exception that escaped) or INTERNAL. After each test the server
still answers a plain predict.
"""
from __future__ import annotations

import http.client
import json
import urllib.parse

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_calls import ok
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

EXAMPLES = settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
REFUSALS = {400, 404, 405, 408, 409, 413, 429, 431, 501}
GRPC_ANSWERS = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
                grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.UNIMPLEMENTED,
                grpc.StatusCode.RESOURCE_EXHAUSTED}
MODELS = ["half_plus_two", "half_plus_two_tf2", "counter", "labelled", "nope"]
SIGNATURES = ["", "serving_default", "classify_x_to_y", "regress_x_to_y", "regress_x2_to_y3", "incr_counter_by",
              "get_counter", "nope"]
NAMES = ["x", "y", "inputs", "delta", "outputs", "scores", "classes"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8)
    | st.fixed_dictionaries({"b64": st.text(max_size=8)}),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=4),
                                                                inner, max_size=3),
    max_leaves=12)
request_bodies = st.one_of(
    st.binary(max_size=64),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.fixed_dictionaries({"instances": json_values},
                          optional={"signature_name": st.sampled_from(SIGNATURES) | json_values})
    .map(lambda value: json.dumps(value).encode()),
    st.fixed_dictionaries({"inputs": json_values}, optional={"signature_name": st.sampled_from(SIGNATURES)})
    .map(lambda value: json.dumps(value).encode()),
    st.fixed_dictionaries({"examples": json_values},
                          optional={"context": json_values, "signature_name": st.sampled_from(SIGNATURES)})
    .map(lambda value: json.dumps(value).encode()),
)
segments = st.sampled_from(MODELS) | st.text(min_size=1, max_size=6)
paths = st.one_of(
    st.builds(lambda model, suffix, verb: f"/v1/models/{urllib.parse.quote(model, safe='')}{suffix}{verb}",
              segments, st.sampled_from(["", "/versions/123", "/versions/1", "/versions/99999999999999999999",
                                         "/labels/stable", "/labels/nope", "/metadata", "/versions/x"]),
              st.sampled_from(["", ":predict", ":classify", ":regress", ":PREDICT", ":explode", "/metadata"])),
    st.text(max_size=20).map(lambda text: "/" + urllib.parse.quote(text)),
    st.sampled_from(["/v1/models", "/v1/", "/monitoring/prometheus/metrics", "/", "/v1/models//x"]),
)


@pytest.fixture(scope="module")
def rest_connection(model_server):
    """One keep-alive connection for every example: a dropped connection fails the example that dropped it."""
    host, port = model_server.rest_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    yield connection
    connection.close()


@EXAMPLES
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]), path=paths, body=request_bodies)
def test_rest_answers_every_request_with_tf_servings_status_and_an_error_body(model_server, rest_connection,
                                                                               method, path, body):
    rest_connection.request(method, path, body=body if method != "GET" else None)
    response = rest_connection.getresponse()
    data = response.read()
    assert response.status == 200 or response.status in REFUSALS, (response.status, data)
    if response.status != 200:
        document = json.loads(data)
        assert list(document) == ["error"] and isinstance(document["error"], str), document
    assert not response.will_close, "the server ended the connection"


@pytest.fixture(scope="module")
def channel(model_server):
    with grpc.insecure_channel(model_server.grpc_target) as opened:
        yield opened


@pytest.fixture(autouse=True)
def still_serving(model_server):
    yield
    assert ok(model_server, "/v1/models/half_plus_two:predict", {"instances": [1.0]}) == {"predictions": [2.5]}


def fill_spec(spec, model: str, version, signature: str) -> None:
    spec.name, spec.signature_name = model, signature
    if isinstance(version, int):
        spec.version.value = version
    elif version:
        spec.version_label = version


specs = st.tuples(st.sampled_from(MODELS) | st.text(max_size=4),
                  st.none() | st.integers(min_value=-2**63, max_value=2**63 - 1) | st.sampled_from(["stable", "nope"]),
                  st.sampled_from(SIGNATURES) | st.text(max_size=4))
dtypes = st.sampled_from(list(types_pb2.DataType.values())) | st.integers(min_value=0, max_value=400)


@st.composite
def tensors(draw) -> tensor_pb2.TensorProto:
    tensor = tensor_pb2.TensorProto(dtype=draw(dtypes))
    if draw(st.booleans()):
        for size in draw(st.lists(st.integers(min_value=-2, max_value=4), max_size=3)):
            tensor.tensor_shape.dim.add().size = size
    tensor.tensor_shape.unknown_rank = draw(st.booleans())
    field = draw(st.sampled_from(["float_val", "double_val", "int_val", "int64_val", "bool_val", "string_val",
                                  "half_val", "uint32_val", "uint64_val", "tensor_content", None]))
    if field == "tensor_content":
        tensor.tensor_content = draw(st.binary(max_size=32))
    elif field == "string_val":
        tensor.string_val.extend(draw(st.lists(st.binary(max_size=8), max_size=4)))
    elif field in ("float_val", "double_val"):
        getattr(tensor, field).extend(draw(st.lists(st.floats(width=32), max_size=4)))
    elif field == "bool_val":
        tensor.bool_val.extend(draw(st.lists(st.booleans(), max_size=4)))
    elif field:
        high = 2**16 - 1 if field == "half_val" else 2**31 - 1 if field == "int_val" else 2**32 - 1 \
            if field == "uint32_val" else 2**63 - 1
        getattr(tensor, field).extend(draw(st.lists(st.integers(min_value=0, max_value=high), max_size=4)))
    return tensor


@st.composite
def predict_requests(draw) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest(output_filter=draw(st.lists(st.sampled_from(NAMES), max_size=3)))
    fill_spec(request.model_spec, *draw(specs))
    for name in draw(st.lists(st.sampled_from(NAMES) | st.text(max_size=3), max_size=3, unique=True)):
        request.inputs[name].CopyFrom(draw(tensors()))
    return request


@st.composite
def example_inputs(draw, request):
    kind = draw(st.sampled_from(["example_list", "example_list_with_context", None]))
    if kind is None:
        return request
    listed = getattr(request.input, kind)
    listed.SetInParent()
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        example = listed.examples.add()
        for name in draw(st.lists(st.sampled_from(["x", "x2", "unused"]), max_size=2, unique=True)):
            feature = example.features.feature[name]
            choice = draw(st.sampled_from(["float_list", "int64_list", "bytes_list"]))
            values = draw(st.lists(st.floats(width=32) if choice == "float_list" else st.binary(max_size=4)
                                   if choice == "bytes_list" else st.integers(-2**63, 2**63 - 1), max_size=3))
            getattr(feature, choice).value.extend(values)
    return request


@st.composite
def example_requests(draw, message_type):
    request = message_type()
    fill_spec(request.model_spec, *draw(specs))
    return draw(example_inputs(request))


@st.composite
def multi_inference_requests(draw) -> inference_pb2.MultiInferenceRequest:
    request = inference_pb2.MultiInferenceRequest()
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        task = request.tasks.add(method_name=draw(st.sampled_from(
            ["tensorflow/serving/classify", "tensorflow/serving/regress", "tensorflow/serving/predict", ""])))
        fill_spec(task.model_spec, *draw(specs))
    return draw(example_inputs(request))


@st.composite
def metadata_requests(draw) -> get_model_metadata_pb2.GetModelMetadataRequest:
    request = get_model_metadata_pb2.GetModelMetadataRequest(
        metadata_field=draw(st.lists(st.sampled_from(["signature_def", "nope", ""]), max_size=2)))
    fill_spec(request.model_spec, *draw(specs))
    return request


@st.composite
def status_requests(draw) -> get_model_status_pb2.GetModelStatusRequest:
    request = get_model_status_pb2.GetModelStatusRequest()
    fill_spec(request.model_spec, *draw(specs))
    return request


METHODS = {
    "Predict": predict_requests(),
    "Classify": example_requests(classification_pb2.ClassificationRequest),
    "Regress": example_requests(regression_pb2.RegressionRequest),
    "MultiInference": multi_inference_requests(),
    "GetModelMetadata": metadata_requests(),
}


@pytest.mark.parametrize("method", list(METHODS))
def test_prediction_service_answers_every_message_with_a_tf_serving_status(channel, method):
    stub = getattr(prediction_service_pb2_grpc.PredictionServiceStub(channel), method)

    @EXAMPLES
    @given(request=METHODS[method])
    def answers(request):
        try:
            stub(request, timeout=30)
        except grpc.RpcError as error:
            assert error.code() in GRPC_ANSWERS, (error.code(), error.details(), request)

    answers()


@EXAMPLES
@given(request=status_requests())
def test_model_status_answers_every_message_with_a_tf_serving_status(channel, request):
    try:
        model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(request, timeout=30)
    except grpc.RpcError as error:
        assert error.code() in GRPC_ANSWERS, (error.code(), error.details(), request)
