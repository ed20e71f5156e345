"""TF Serving's own server tests, asked of `hubml serve`.

Each test names the upstream test it comes from (file in tensorflow/serving, then test name) and asks
the same of a running `hubml serve` with the same model (TF Serving's `half_plus_two` test model:
y = 0.5 x + 2, with `classify_x_to_y` and `regress_x_to_y` signatures), over real HTTP and with the
official `tensorflow-serving-api` gRPC stubs. Where the upstream test runs its handler in-process, the
status it expects is checked as the HTTP status TF Serving's http_server.cc maps it to.
"""
from __future__ import annotations

import http.client
import json

import grpc
import pytest
from rest_calls import call, ok
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    inference_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

HANDLER_TEST = "tensorflow_serving/model_servers/http_rest_api_handler_test.cc"
SERVER_TEST = "tensorflow_serving/model_servers/tensorflow_model_server_test.py"
JSON_TENSOR_TEST = "tensorflow_serving/util/json_tensor_test.cc"
MODEL = "half_plus_two"


@pytest.fixture(scope="module")
def prediction_stub(model_server):
    channel = grpc.insecure_channel(model_server.grpc_target)
    yield prediction_service_pb2_grpc.PredictionServiceStub(channel)
    channel.close()


def error_of(server, method: str, path: str, body: bytes | None = None) -> tuple[int, str]:
    """(HTTP status, the "error" text) of a request TF Serving refuses; raw bytes, any method."""
    host, port = server.rest_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request(method, path, body=body)
        response = connection.getresponse()
        document = json.loads(response.read())
    finally:
        connection.close()
    assert list(document) == ["error"], document
    return response.status, document["error"]


def grpc_code(method, request) -> tuple[grpc.StatusCode, str]:
    """(status code, details) of one gRPC call; OK when it answers."""
    try:
        method(request, timeout=30)
    except grpc.RpcError as error:
        return error.code(), error.details()
    return grpc.StatusCode.OK, ""


# ---- REST (http_rest_api_handler_test.cc) ---------------------------------------------------------------

@pytest.mark.parametrize("method, path, words", [
    ("GET", "/v1/foo", "Malformed request"),
    ("POST", "/v1/foo", "Malformed request"),
    ("GET", "/v1/models", "Missing model name"),
    ("GET", "/v1/models/debug/model_name", "Malformed request"),
    ("POST", "/v1/models", "Malformed request"),
    ("GET", "/v1/models/foo:predict", "Malformed request"),
    ("GET", "/v1/models/foo/version/50:predict", "Malformed request"),
    ("POST", "/v1/models/foo/version/50:regress", "Malformed request"),
    ("POST", "/v1/models/foo/versions/HELLO:regress", "Malformed request"),
    ("POST", f"/v1/models/foo/versions/{2**64 - 1}:regress", "Failed to convert version"),
    ("POST", "/v1/models/foo/metadata", "Malformed request"),
    ("POST", "/v1/models/foo/label/some_label:regress", "Malformed request"),
    ("POST", "/v1/models/foo/versions/50/labels/some_label:regress", "Malformed request"),
    ("POST", "/v1/models/foo/versions/some_label:regress", "Malformed request"),
])
def test_unsupported_api_calls(model_server, method, path, words):
    """http_rest_api_handler_test.cc, UnsupportedApiCalls: INVALID_ARGUMENT, i.e. HTTP 400."""
    status, message = error_of(model_server, method, path, b"" if method == "POST" else None)
    assert (status, words in message) == (400, True), message


@pytest.mark.parametrize("path", ["/v1/models/foo:predict", "/v1/models/foo/versions/50:predict",
                                  f"/v1/models/{MODEL}99:predict"])
def test_predict_model_name_version_errors(model_server, path):
    """http_rest_api_handler_test.cc, PredictModelNameVersionErrors: NOT_FOUND, i.e. HTTP 404."""
    assert error_of(model_server, "POST", path, b'{ "instances": [1] }')[0] == 404


@pytest.mark.parametrize("path, body, status, words", [
    (f"/v1/models/{MODEL}:predict", b"", 400, "JSON Parse error: The document is empty"),
    (f"/v1/models/{MODEL}:predict", b"instances = [1, 2]", 400, "JSON Parse error: Invalid value"),
    (f"/v1/models/{MODEL}:predict", b'{ "instances": ["x", "y"] }', 400, "not of expected type: float"),
    ("/v1/models/labelled/labels/nonexistent:predict", b'{ "instances": ["x", "y"] }', 400,
     "Unrecognized servable version label"),
    (f"/v1/models/{MODEL}:predict", b'{ "signature_name": 100 }', 400, "'signature_name' key must be a string value."),
], ids=["empty", "bad-json", "wrong-type", "no-such-label", "signature-name-type"])
def test_predict_request_errors(model_server, path, body, status, words):
    """http_rest_api_handler_test.cc, PredictRequestErrors."""
    got_status, message = error_of(model_server, "POST", path, body)
    assert (got_status, words in message) == (status, True), message


def test_predict(model_server):
    """http_rest_api_handler_test.cc, Predict: row and columnar, latest, version, label and signature."""
    assert ok(model_server, f"/v1/models/{MODEL}:predict", {"instances": [[1.0, 2.0], [3.0, 4.0]]}) == \
        {"predictions": [[2.5, 3.0], [3.5, 4.0]]}
    assert ok(model_server, f"/v1/models/{MODEL}/versions/123:predict", {"instances": [1.0, 2.0]}) == \
        {"predictions": [2.5, 3.0]}
    assert ok(model_server, "/v1/models/labelled/labels/stable:predict", {"instances": [1.0, 2.0]}) == \
        {"predictions": [2.5, 3.0]}
    assert ok(model_server, f"/v1/models/{MODEL}/versions/123:predict",
              {"signature_name": "serving_default", "instances": [3.0, 4.0]}) == {"predictions": [3.5, 4.0]}
    assert ok(model_server, f"/v1/models/{MODEL}/versions/123:predict",
              {"signature_name": "serving_default", "inputs": [3.0, 4.0]}) == {"outputs": [3.5, 4.0]}


def test_every_answer_is_json(model_server):
    """http_rest_api_handler_test.cc, Predict (and every other test there): Content-Type: application/json."""
    host, port = model_server.rest_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    for method, path, body in (("POST", f"/v1/models/{MODEL}:predict", b'{"instances": [1.0]}'),
                               ("GET", f"/v1/models/{MODEL}", None), ("POST", "/v1/foo", b"")):
        connection.request(method, path, body=body)
        response = connection.getresponse()
        response.read()
        assert response.getheader("Content-Type") == "application/json"
    connection.close()


def test_regress(model_server):
    """http_rest_api_handler_test.cc, Regress: {"results": [42]} for x = 80, by latest and by version."""
    body = {"signature_name": "regress_x_to_y", "examples": [{"x": 80.0}]}
    assert ok(model_server, f"/v1/models/{MODEL}:regress", body) == {"results": [42]}
    assert ok(model_server, f"/v1/models/{MODEL}/versions/123:regress", body) == {"results": [42]}


def test_classify(model_server):
    """http_rest_api_handler_test.cc, Classify: {"results": [[["", 12]]]} for x = 20."""
    assert ok(model_server, f"/v1/models/{MODEL}:classify",
              {"signature_name": "classify_x_to_y", "examples": [{"x": 20.0}]}) == {"results": [[["", 12]]]}
    assert ok(model_server, f"/v1/models/{MODEL}/versions/123:classify",
              {"signature_name": "classify_x_to_y", "examples": [{"x": 10.0}]}) == {"results": [[["", 7]]]}


def test_get_status(model_server):
    """http_rest_api_handler_test.cc, GetStatus: all versions, one version, by label."""
    expected = {"model_version_status": [
        {"version": "123", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}
    assert ok(model_server, f"/v1/models/{MODEL}") == expected
    assert ok(model_server, f"/v1/models/{MODEL}/versions/123") == expected
    assert ok(model_server, "/v1/models/labelled/labels/stable")["model_version_status"][0]["version"] == "1"


def test_get_model_metadata(model_server, testdata):
    """http_rest_api_handler_test.cc, GetModelMetadata: the expected JSON file, field for field."""
    expected = json.loads((testdata / "half_plus_two_model_metadata.json").read_text())
    expected["model_spec"]["name"] = MODEL
    assert ok(model_server, f"/v1/models/{MODEL}/metadata") == expected


# ---- REST (tensorflow_model_server_test.py) ----------------------------------------------------------------

def test_classify_rest(model_server):
    """tensorflow_model_server_test.py, testClassifyREST."""
    assert ok(model_server, f"/v1/models/{MODEL}:classify",
              {"signature_name": "classify_x_to_y", "examples": [{"x": 2.0}]}) == {"results": [[["", 3.0]]]}


def test_regress_rest(model_server):
    """tensorflow_model_server_test.py, testRegressREST."""
    assert ok(model_server, f"/v1/models/{MODEL}:regress",
              {"signature_name": "regress_x_to_y", "examples": [{"x": 2.0}]}) == {"results": [3.0]}


def test_predict_rest_and_columnar(model_server):
    """tensorflow_model_server_test.py, testPredictREST and testPredictColumnarREST."""
    assert ok(model_server, f"/v1/models/{MODEL}:predict", {"instances": [2.0, 3.0, 4.0]}) == \
        {"predictions": [3.0, 3.5, 4.0]}
    assert ok(model_server, f"/v1/models/{MODEL}:predict", {"inputs": [2.0, 3.0, 4.0]}) == \
        {"outputs": [3.0, 3.5, 4.0]}


def test_prometheus_endpoint(model_server):
    """tensorflow_model_server_test.py, testPrometheusEndpoint: the page has metric type information."""
    host, port = model_server.rest_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("GET", "/monitoring/prometheus/metrics")
    assert "# TYPE" in connection.getresponse().read().decode()
    connection.close()


# ---- JSON tensors (json_tensor_test.cc) --------------------------------------------------------------------

@pytest.mark.parametrize("body, words", [
    ({"signature_name": ["hello"], "examples": [{"names": ["foo", "bar"]}]}, "'signature_name' key must be a string"),
    ({"context": [{"names": ["foo", "bar"]}]}, "Example must be JSON object"),
    ({"examples": {"names": ["foo", "bar"]}}, "list/array"),
    ({"examples": [[{"names": ["foo", "bar"]}]]}, "Example must be JSON object"),
    ({"examples": [{"names": [10, None]}]}, "names has element with unexpected JSON type: Null"),
    ({"examples": [{"names": [10, 10.0]}]}, "feature: names expecting type: int64"),
    ({"examples": [{"names": [10, {"test": 10}]}]}, "names has element with unexpected JSON type: Object"),
    ({"examples": [{"names": [[10], 20]}]}, "names has element with unexpected JSON type: Array"),
    ({"examples": [{"names": [20, 18446744073709551603]}]}, "Only int64 is supported"),
], ids=["signature", "context", "examples-object", "nested-example", "null", "mixed", "object", "array", "uint64"])
def test_classify_regress_json_errors(model_server, body, words):
    """json_tensor_test.cc, ClassifyRegressRequestTest JsonErrors: INVALID_ARGUMENT (400) with its words."""
    for verb in ("classify", "regress"):
        status, message = error_of(model_server, "POST", f"/v1/models/{MODEL}:{verb}", json.dumps(body).encode())
        assert (status, words in message) == (400, True), message


def test_examples_with_context_booleans_and_b64(model_server):
    """json_tensor_test.cc, ClassifyRegressRequestTest RequestWithContextAndSignature: context merged into
    each example, booleans as int64, b64 strings as bytes."""
    body = {"signature_name": "regress_x_to_y", "context": {"query": "pizza", "flag": [1, True, False]},
            "examples": [{"x": 2.0, "names": ["baz", {"b64": "aGVsbG8="}]}, {"x": 4.0}]}
    assert ok(model_server, f"/v1/models/{MODEL}:regress", body) == {"results": [3.0, 4.0]}


def test_non_finite_values_and_float32_precision(model_server):
    """json_tensor_test.cc, ClassifyRegressRequestTest RequestWithContextAndSignature (NaN and Infinity
    are read) and ClassifyRegressnResultTest JsonFromRegressionResultWithNonFinite (and written as such);
    float32 results at float32 precision (WriteDecimal)."""
    body = b'{"signature_name": "regress_x_to_y", "examples": [{"x": Infinity}, {"x": NaN}, {"x": 0.2}]}'
    host, port = model_server.rest_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("POST", f"/v1/models/{MODEL}:regress", body=body)
    response = connection.getresponse()
    text = response.read().decode()
    connection.close()
    assert (response.status, text.replace(" ", "")) == (200, '{"results":[Infinity,NaN,2.1]}')


# ---- gRPC (tensorflow_model_server_test.py) ----------------------------------------------------------------

def float_request(value: float, *, output_filter: bool) -> predict_pb2.PredictRequest:
    """The request VerifyPredictRequest builds: x as one float_val, not tensor_content."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = MODEL
    request.inputs["x"].dtype = types_pb2.DT_FLOAT
    request.inputs["x"].float_val.append(value)
    request.inputs["x"].tensor_shape.dim.add().size = 1
    if output_filter:
        request.output_filter.append("y")
    return request


@pytest.mark.parametrize("output_filter", [True, False])
def test_predict_saved_model_answers_in_float_val(prediction_stub, output_filter):
    """tensorflow_model_server_test.py, testPredictSavedModel (VerifyPredictRequest, with and without
    output_filter): outputs["y"] is DT_FLOAT with one float_val, 3.0."""
    result = prediction_stub.Predict(float_request(2.0, output_filter=output_filter), timeout=30)
    assert "y" in result.outputs
    assert result.outputs["y"].dtype == types_pb2.DT_FLOAT
    assert list(result.outputs["y"].float_val) == [3.0]
    assert result.outputs["y"].tensor_content == b""
    assert (result.model_spec.name, result.model_spec.version.value) == (MODEL, 123)


def add_example(request, x: float) -> None:
    request.input.example_list.examples.add().features.feature["x"].float_list.value.extend([x])


def test_classify(prediction_stub):
    """tensorflow_model_server_test.py, testClassify: one classification, one class, score 3.0."""
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name, request.model_spec.signature_name = MODEL, "classify_x_to_y"
    add_example(request, 2.0)
    result = prediction_stub.Classify(request, timeout=30).result
    assert [[c.score for c in item.classes] for item in result.classifications] == [[3.0]]


def test_regress(prediction_stub):
    """tensorflow_model_server_test.py, testRegress: one regression, 3.0."""
    request = regression_pb2.RegressionRequest()
    request.model_spec.name, request.model_spec.signature_name = MODEL, "regress_x_to_y"
    add_example(request, 2.0)
    assert [r.value for r in prediction_stub.Regress(request, timeout=30).result.regressions] == [3.0]


@pytest.mark.parametrize("service, request_type, signature", [
    ("Classify", classification_pb2.ClassificationRequest, "classify_x_to_y"),
    ("Regress", regression_pb2.RegressionRequest, "regress_x_to_y"),
], ids=["classification_service_test.cc", "regression_service_test.cc"])
def test_classification_and_regression_services(prediction_stub, service, request_type, signature):
    """classification_service_test.cc (ClassificationServiceTest) and regression_service_test.cc
    (RegressionServiceTest): InvalidModelSpec, InvalidSignature, ClassificationSuccess / RegressionSuccess."""
    method = getattr(prediction_stub, service)
    request = request_type()
    assert grpc_code(method, request) == (grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec")
    request.model_spec.SetInParent()
    assert grpc_code(method, request)[0] == grpc.StatusCode.INVALID_ARGUMENT
    request.model_spec.name = "foo"
    assert grpc_code(method, request)[0] == grpc.StatusCode.NOT_FOUND
    request.model_spec.name, request.model_spec.signature_name = MODEL, "invalid_signature_name"
    assert grpc_code(method, request)[0] == grpc.StatusCode.INVALID_ARGUMENT
    request.model_spec.signature_name = signature
    example = request.input.example_list.examples.add()
    example.features.feature["x"].float_list.value.append(80.0)
    example.features.feature["locale"].bytes_list.value.append(b"pt_BR")
    example.features.feature["age"].float_list.value.append(19.0)
    expected = request_type.__name__.replace("Request", "Response")
    response = method(request, timeout=30)
    assert type(response).__name__ == expected
    assert (response.model_spec.name, response.model_spec.signature_name, response.model_spec.version.value) == \
        (MODEL, signature, 123)
    if service == "Classify":
        assert [[(c.label, c.score) for c in item.classes] for item in response.result.classifications] == [[("", 42)]]
    else:
        assert [item.value for item in response.result.regressions] == [42]


def test_multi_inference(prediction_stub):
    """tensorflow_model_server_test.py, testMultiInference: results in task order, both 3.0."""
    request = inference_pb2.MultiInferenceRequest()
    for signature, method in (("regress_x_to_y", "tensorflow/serving/regress"),
                              ("classify_x_to_y", "tensorflow/serving/classify")):
        task = request.tasks.add(method_name=method)
        task.model_spec.name, task.model_spec.signature_name = MODEL, signature
    add_example(request, 2.0)
    results = prediction_stub.MultiInference(request, timeout=30).results
    assert len(results) == 2
    assert results[0].regression_result.regressions[0].value == 3.0
    assert results[1].classification_result.classifications[0].classes[0].score == 3.0


# ---- gRPC MultiInference (tensorflow_serving/servables/tensorflow/multi_inference_test.cc) -------------------

def multi_inference(*tasks: tuple[str, str], model: str = MODEL, **features: float):
    request = inference_pb2.MultiInferenceRequest()
    for signature, method in tasks:
        task = request.tasks.add(method_name=method)
        task.model_spec.name, task.model_spec.signature_name = model, signature
    if features:
        example = request.input.example_list.examples.add()
        for name, value in features.items():
            example.features.feature[name].float_list.value.append(value)
    return request


REGRESS = ("regress_x_to_y", "tensorflow/serving/regress")


def with_task_on(model: str, request: inference_pb2.MultiInferenceRequest) -> inference_pb2.MultiInferenceRequest:
    """`request` with one more regress_x_to_y task, on another model."""
    task = request.tasks.add(method_name=REGRESS[1])
    task.model_spec.name, task.model_spec.signature_name = model, REGRESS[0]
    return request


@pytest.mark.parametrize("request_of, code, words", [
    (lambda: multi_inference(REGRESS), grpc.StatusCode.INVALID_ARGUMENT, "Input is empty"),
    (lambda: multi_inference(("ThisSignatureDoesNotExist", REGRESS[1]), x=2.0), grpc.StatusCode.INVALID_ARGUMENT,
     "signature not found"),
    (lambda: with_task_on("ModelDoesNotExist", multi_inference(REGRESS, x=2.0)), grpc.StatusCode.INVALID_ARGUMENT,
     "must access the same model name"),
    (lambda: multi_inference(REGRESS, REGRESS, x=2.0), grpc.StatusCode.INVALID_ARGUMENT,
     "Duplicate evaluation of signature: regress_x_to_y"),
    (lambda: multi_inference(("serving_default", "tensorflow/serving/predict"), x=2.0),
     grpc.StatusCode.UNIMPLEMENTED, "Unsupported signature"),
    (lambda: multi_inference(REGRESS, ("regress_x2_to_y3", REGRESS[1]), x=2.0, x2=2.0),
     grpc.StatusCode.INVALID_ARGUMENT, "Input tensor must be the same"),
], ids=["MissingInputTest", "UndefinedSignatureTest", "InconsistentModelSpecsInRequestTest",
        "EvaluateDuplicateSignaturesTest", "UsupportedSignatureTypeTest", "SignaturesWithDifferentInputsTest"])
def test_multi_inference_errors(prediction_stub, request_of, code, words):
    """multi_inference_test.cc: the tests named in the ids, with their codes and words."""
    with pytest.raises(grpc.RpcError) as caught:
        prediction_stub.MultiInference(request_of(), timeout=30)
    assert (caught.value.code(), words in caught.value.details()) == (code, True), caught.value.details()


def test_multi_inference_results(prediction_stub):
    """multi_inference_test.cc: ValidSingleSignatureTest, MultipleValidRegressSignaturesTest,
    RegressAndClassifySignaturesTest."""
    def values(*tasks):
        results = prediction_stub.MultiInference(multi_inference(*tasks, x=2.0), timeout=30).results
        return [result.regression_result.regressions[0].value if result.HasField("regression_result")
                else result.classification_result.classifications[0].classes[0].score for result in results]

    assert values(REGRESS) == [3.0]
    assert values(REGRESS, ("regress_x_to_y2", REGRESS[1])) == [3.0, 4.0]
    assert values(REGRESS, ("classify_x_to_y", "tensorflow/serving/classify")) == [3.0, 3.0]


# ---- gRPC Predict (tensorflow_serving/servables/tensorflow/predict_impl_test.cc) ------------------------------

def scalar(dtype: int, **values) -> tensor_pb2.TensorProto:
    """A tensor as the upstream tests write them: no tensor_shape (a scalar), values in a typed field."""
    return tensor_pb2.TensorProto(dtype=dtype, **values)


def spec_request(signature: str = "", **inputs: tensor_pb2.TensorProto) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name, request.model_spec.signature_name = MODEL, signature
    request.model_spec.version.value = 123
    for name, tensor in inputs.items():
        request.inputs[name].CopyFrom(tensor)
    return request


def refusal(stub, request) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as caught:
        stub.Predict(request, timeout=30)
    return caught.value.code(), caught.value.details()


def test_empty_input_list(prediction_stub):
    """predict_impl_test.cc, EmptyInputList: INVALID_ARGUMENT."""
    assert refusal(prediction_stub, spec_request())[0] == grpc.StatusCode.INVALID_ARGUMENT


def test_input_tensors_dont_match_model_spec_inputs(prediction_stub):
    """predict_impl_test.cc, InputTensorsDontMatchModelSpecInputs: both unknown names and the missing one."""
    request = spec_request(unknown_key1=scalar(types_pb2.DT_STRING, string_val=[b"any_value"]),
                           unknown_key2=scalar(types_pb2.DT_FLOAT, float_val=[1.0]))
    code, message = refusal(prediction_stub, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "Sent extra: {unknown_key1,unknown_key2}" in message and "Missing but required: {x}" in message


def test_prediction_invalid_tensor(prediction_stub):
    """predict_impl_test.cc, PredictionInvalidTensor: a bool for a float input is refused, not cast."""
    code, message = refusal(prediction_stub, spec_request(x=scalar(types_pb2.DT_BOOL, bool_val=[True])))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "Expects arg[0] to be float but bool is provided" in message


def test_output_filters_dont_match_model_spec_outputs(prediction_stub):
    """predict_impl_test.cc, OutputFiltersDontMatchModelSpecOutputs: unknown, then valid, then duplicate."""
    request = spec_request(x=scalar(types_pb2.DT_FLOAT, float_val=[2.0]))
    request.output_filter.append("output_filter")
    code, message = refusal(prediction_stub, request)
    assert (code, "output tensor alias not found in signature: output_filter" in message) == \
        (grpc.StatusCode.INVALID_ARGUMENT, True)
    request.output_filter[:] = ["y"]
    prediction_stub.Predict(request, timeout=30)
    request.output_filter.append("y")
    code, message = refusal(prediction_stub, request)
    assert (code, "duplicate output tensor alias: y" in message) == (grpc.StatusCode.INVALID_ARGUMENT, True)


def test_input_tensors_have_wrong_type(prediction_stub):
    """predict_impl_test.cc, InputTensorsHaveWrongType."""
    tensor = scalar(types_pb2.DT_STRING, string_val=[b"any_value"])
    tensor.tensor_shape.dim.add().size = 1
    code, message = refusal(prediction_stub, spec_request(x=tensor))
    assert (code, "to be float but string is provided" in message) == (grpc.StatusCode.INVALID_ARGUMENT, True)


def expected_response(signature: str, output: str, value: float) -> predict_pb2.PredictResponse:
    response = predict_pb2.PredictResponse()
    response.model_spec.name, response.model_spec.signature_name = MODEL, signature
    response.model_spec.version.value = 123
    response.outputs[output].CopyFrom(scalar(types_pb2.DT_FLOAT, float_val=[value]))
    response.outputs[output].tensor_shape.SetInParent()
    return response


def test_prediction_success(prediction_stub):
    """predict_impl_test.cc, PredictionSuccess: the whole response, field for field (float_val, scalar shape)."""
    response = prediction_stub.Predict(spec_request(x=scalar(types_pb2.DT_FLOAT, float_val=[2.0])), timeout=30)
    assert response == expected_response("serving_default", "y", 3.0)


def test_prediction_with_named_regression_signature(prediction_stub):
    """predict_impl_test.cc, PredictionWithNamedRegressionSignature: Predict runs a regress signature."""
    request = spec_request("regress_x2_to_y3", inputs=scalar(types_pb2.DT_FLOAT, float_val=[2.0]))
    assert prediction_stub.Predict(request, timeout=30) == expected_response("regress_x2_to_y3", "outputs", 4.0)


def test_prediction_with_customized_signatures(prediction_stub):
    """predict_impl_test.cc, PredictionWithCustomizedSignatures on TF Serving's counter model, from
    reset_counter on (the server is shared): 0, 1, 0, 1 (with an output filter), then incr_counter_by 3: 4."""
    def run(signature: str, output_filter: tuple[str, ...] = (), **inputs) -> list[float]:
        request = spec_request(signature, **inputs)
        request.model_spec.name = "counter"
        request.model_spec.ClearField("version")
        request.output_filter.extend(output_filter)
        return list(prediction_stub.Predict(request, timeout=30).outputs["output"].float_val)

    assert run("reset_counter") == [0.0]
    assert run("incr_counter") == [1.0]
    assert run("reset_counter") == [0.0]
    assert run("incr_counter", ("output",)) == [1.0]
    assert run("incr_counter_by", delta=scalar(types_pb2.DT_FLOAT, float_val=[3.0])) == [4.0]


@pytest.fixture(scope="module")
def model_stub(model_server):
    from tensorflow_serving.apis import model_service_pb2_grpc

    channel = grpc.insecure_channel(model_server.grpc_target)
    yield model_service_pb2_grpc.ModelServiceStub(channel)
    channel.close()


def test_get_model_status(model_stub):
    """get_model_status_impl_test.cc: MissingOrEmptyModelSpecFailure, InvalidModelNameFailure,
    InvalidModelVersionFailure, AllVersionsSuccess, SingleVersionSuccess."""
    from tensorflow_serving.apis import get_model_status_pb2

    def status(**spec) -> get_model_status_pb2.GetModelStatusRequest:
        request = get_model_status_pb2.GetModelStatusRequest()
        if spec:
            request.model_spec.name = spec["name"]
            if "version" in spec:
                request.model_spec.version.value = spec["version"]
        return request

    assert grpc_code(model_stub.GetModelStatus, status()) == (grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec")
    assert grpc_code(model_stub.GetModelStatus, status(name="nonexistent_model"))[0] == grpc.StatusCode.NOT_FOUND
    assert grpc_code(model_stub.GetModelStatus, status(name="labelled", version=99))[0] == grpc.StatusCode.NOT_FOUND
    every = model_stub.GetModelStatus(status(name="labelled"), timeout=30).model_version_status
    assert {(v.version, v.status.error_code, v.status.error_message) for v in every} == {(1, 0, ""), (2, 0, "")}
    one = model_stub.GetModelStatus(status(name="labelled", version=1), timeout=30).model_version_status
    assert [(v.version, v.status.error_code) for v in one] == [(1, 0)]


def test_get_model_metadata(prediction_stub):
    """get_model_metadata_impl_test.cc: EmptyOrInvalidMetadataFieldList, MissingOrEmptyModelSpec,
    ReturnsSignaturesForValidModel."""
    from tensorflow_serving.apis import get_model_metadata_pb2

    def metadata(fields, name=None, version=None) -> get_model_metadata_pb2.GetModelMetadataRequest:
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=fields)
        if name is not None:
            request.model_spec.name = name
        if version is not None:
            request.model_spec.version.value = version
        return request

    call = prediction_stub.GetModelMetadata
    assert grpc_code(call, metadata([], MODEL))[0] == grpc.StatusCode.INVALID_ARGUMENT
    assert grpc_code(call, metadata(["some_stuff"], MODEL))[0] == grpc.StatusCode.INVALID_ARGUMENT
    assert grpc_code(call, metadata(["signature_def"])) == (grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec")
    assert grpc_code(call, metadata(["signature_def"], ""))[0] == grpc.StatusCode.INVALID_ARGUMENT
    assert grpc_code(call, metadata(["signature_def"], "test"))[0] == grpc.StatusCode.NOT_FOUND
    request = metadata(["signature_def"], MODEL, 123)
    response = call(request, timeout=30)
    assert response.model_spec == request.model_spec and list(response.metadata) == ["signature_def"]
    signatures = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signatures)
    assert {"regress_x_to_y", "serving_default"} <= set(signatures.signature_def)
