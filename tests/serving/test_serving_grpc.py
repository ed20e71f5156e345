"""TF Serving's gRPC services on `hubml serve`, called with the official `tensorflow-serving-api` stubs."""
from __future__ import annotations

import json

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)
from tensorflow_serving.config import model_server_config_pb2


@pytest.fixture(scope="module")
def stubs(model_server):
    channel = grpc.insecure_channel(model_server.grpc_target)
    yield (prediction_service_pb2_grpc.PredictionServiceStub(channel),
           model_service_pb2_grpc.ModelServiceStub(channel))
    channel.close()


def predict_request(model: str, values, **spec) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    for key, value in spec.items():
        if key == "version":
            request.model_spec.version.value = value
        else:
            setattr(request.model_spec, key, value)
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(values, dtype=tf.float32))
    return request


def example_input(request, *xs: float) -> None:
    for x in xs:
        example = request.input.example_list.examples.add()
        example.features.feature["x"].float_list.value.append(x)


@pytest.mark.parametrize("model", ["half_plus_two", "half_plus_two_tf2"])
def test_predict(stubs, model):
    response = stubs[0].Predict(predict_request(model, [1.0, 2.0, 5.0]), timeout=30)
    np.testing.assert_allclose(tf.make_ndarray(response.outputs["y"]), [2.5, 3.0, 4.5])
    assert (response.model_spec.name, response.model_spec.version.value) == (model, 123)
    assert response.model_spec.signature_name == "serving_default"


def test_predict_with_version_label_and_output_filter(stubs):
    by_label = stubs[0].Predict(predict_request("labelled", [2.0], version_label="stable"), timeout=30)
    assert (tf.make_ndarray(by_label.outputs["y"]).tolist(), by_label.model_spec.version.value) == ([3.0], 1)
    request = predict_request("labelled", [2.0], version=2)
    request.output_filter.append("y")
    assert tf.make_ndarray(stubs[0].Predict(request, timeout=30).outputs["y"]).tolist() == [4.0]
    request.output_filter[:] = ["nope"]
    with pytest.raises(grpc.RpcError) as caught:
        stubs[0].Predict(request, timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "output tensor alias not found in signature: nope" in caught.value.details()


@pytest.mark.parametrize("request_change, code, words", [
    (lambda r: setattr(r.model_spec, "name", "nope"), grpc.StatusCode.NOT_FOUND, "Latest(nope)"),
    (lambda r: r.model_spec.version.__setattr__("value", 9), grpc.StatusCode.NOT_FOUND, "Specific(half_plus_two, 9)"),
    (lambda r: setattr(r.model_spec, "signature_name", "nope"), grpc.StatusCode.FAILED_PRECONDITION,
     'Serving signature key "nope" not found.'),
    (lambda r: r.inputs["y"].CopyFrom(r.inputs["x"]), grpc.StatusCode.INVALID_ARGUMENT, "Sent extra: {y}"),
    (lambda r: r.inputs["x"].CopyFrom(tf.make_tensor_proto(["a"])), grpc.StatusCode.INVALID_ARGUMENT,
     "to be float"),
])
def test_predict_errors_carry_tf_serving_codes(stubs, request_change, code, words):
    request = predict_request("half_plus_two", [1.0])
    request_change(request)
    with pytest.raises(grpc.RpcError) as caught:
        stubs[0].Predict(request, timeout=30)
    assert (caught.value.code(), words in caught.value.details()) == (code, True), caught.value.details()


def test_classify_and_regress(stubs):
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name, request.model_spec.signature_name = "half_plus_two", "classify_x_to_y"
    example_input(request, 1.0, 4.0)
    result = stubs[0].Classify(request, timeout=30).result
    assert [[(c.label, c.score) for c in item.classes] for item in result.classifications] == [[("", 2.5)], [("", 4.0)]]
    request = regression_pb2.RegressionRequest()
    request.model_spec.name, request.model_spec.signature_name = "half_plus_two", "regress_x_to_y"
    example_input(request, 2.0)
    assert [r.value for r in stubs[0].Regress(request, timeout=30).result.regressions] == [3.0]


def test_multi_inference_runs_each_task_on_the_same_examples(stubs):
    request = inference_pb2.MultiInferenceRequest()
    for signature, method in (("classify_x_to_y", "tensorflow/serving/classify"),
                              ("regress_x_to_y2", "tensorflow/serving/regress")):
        task = request.tasks.add(method_name=method)
        task.model_spec.name, task.model_spec.signature_name = "half_plus_two", signature
    example_input(request, 2.0)
    classify, regress = stubs[0].MultiInference(request, timeout=30).results
    assert classify.classification_result.classifications[0].classes[0].score == 3.0
    assert regress.regression_result.regressions[0].value == 4.0


def test_metadata_and_status(stubs):
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = "half_plus_two_tf2"
    response = stubs[0].GetModelMetadata(request, timeout=30)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signatures)
    assert signatures.signature_def["serving_default"].inputs["x"].name == "serving_default_x:0"
    assert "__saved_model_init_op" not in signatures.signature_def
    status = get_model_status_pb2.GetModelStatusRequest()
    status.model_spec.name = "labelled"
    versions = stubs[1].GetModelStatus(status, timeout=30).model_version_status
    assert [(v.version, v.state, v.status.error_code) for v in versions] == [
        (2, get_model_status_pb2.ModelVersionStatus.AVAILABLE, 0), (1, get_model_status_pb2.ModelVersionStatus.AVAILABLE, 0)]


def test_reload_config_serves_the_new_model_list(start_server, testdata, tmp_path):
    ready_file = tmp_path / "ready.json"
    server = start_server(f"--model_base_path={testdata / 'saved_model_half_plus_two_cpu'}", "--model_name=first",
                          "--file_system_poll_wait_seconds=0", f"--ready_file={ready_file}")
    ready = json.loads(ready_file.read_text())
    assert (ready["pid"], ready["grpc_target"], ready["rest_url"]) == (
        server.process.pid, server.grpc_target, server.rest_url)
    channel = grpc.insecure_channel(server.grpc_target)
    predict, models = (prediction_service_pb2_grpc.PredictionServiceStub(channel),
                       model_service_pb2_grpc.ModelServiceStub(channel))
    config = model_server_config_pb2.ModelServerConfig()
    config.model_config_list.config.add(name="second", base_path=str(testdata / "saved_model_half_plus_three"),
                                        model_platform="tensorflow")
    models.HandleReloadConfigRequest(model_management_pb2.ReloadConfigRequest(config=config), timeout=60)
    assert tf.make_ndarray(predict.Predict(predict_request("second", [1.0]), timeout=30).outputs["y"]).tolist() == [3.5]
    with pytest.raises(grpc.RpcError) as caught:
        predict.Predict(predict_request("first", [1.0]), timeout=30)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    channel.close()

