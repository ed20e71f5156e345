"""Wrong shapes, dtypes and input names on a two-input model, answered as TF Serving answers them.

TF Serving checks input names and dtypes before running the model and no shapes (predict_util.cc);
a shape the graph cannot take fails inside the model, and TensorFlow's status (INVALID_ARGUMENT) and
message are what it answers. hubml answers the same, never 500, names the input in every message, and
keeps serving. The model is exported here with TensorFlow: y = x @ [[1], [2], [3]] + bias.
"""
from __future__ import annotations

import grpc
import numpy as np
import pytest
import tensorflow as tf
from rest_calls import call, ok
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

MODEL = "affine"
GOOD = {"instances": [{"x": [1.0, 1.0, 1.0], "bias": [0.5]}]}


@pytest.fixture(scope="module")
def server(start_module_server, tmp_path_factory):
    class Affine(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable([[1.0], [2.0], [3.0]])

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x"),
                                      tf.TensorSpec([None, 1], tf.float32, name="bias")])
        def serve(self, x, bias):
            return {"y": tf.matmul(x, self.w) + bias}

    base = tmp_path_factory.mktemp("affine")
    module = Affine()
    tf.saved_model.save(module, str(base / "1"), signatures={"serving_default": module.serve})
    return start_module_server(f"--model_base_path={base}", f"--model_name={MODEL}",
                               "--file_system_poll_wait_seconds=0")


@pytest.fixture(scope="module")
def predict(server):
    channel = grpc.insecure_channel(server.grpc_target)
    yield prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict
    channel.close()


@pytest.fixture(autouse=True)
def still_serving(server):
    yield
    assert ok(server, f"/v1/models/{MODEL}:predict", GOOD) == {"predictions": [[6.5]]}


@pytest.mark.parametrize("body, words", [
    ({"instances": [{"x": [1.0, 2.0], "bias": [0.5]}, {"x": [1.0, 2.0, 3.0], "bias": [0.5]}]},
     "Expecting tensor size: 2 but got: 3"),  # rows of different widths
    ({"inputs": {"x": [1.0, 2.0, 3.0], "bias": [[0.5]]}}, "input x has shape [3]"),  # wrong rank
    ({"inputs": {"x": [[1.0, 2.0, 3.0, 4.0]], "bias": [[0.5]]}}, "input x has shape [1, 4]"),  # wrong inner dim
    ({"instances": [{"x": ["a", "b", "c"], "bias": [0.5]}]}, "key: x"),  # a string where a float goes
    ({"instances": [{"x": [1.0, 2.0, 3.0]}]}, "must only have keys: bias,x"),  # missing input
    ({"inputs": {"x": [[1.0, 2.0, 3.0]]}}, "Missing named input: bias"),
    ({"instances": [{"x": [1.0, 2.0, 3.0], "bias": [0.5], "extra": [1.0]}]}, "does not have named input: extra"),
], ids=["ragged", "rank", "inner-dim", "string", "missing-row", "missing-columnar", "extra"])
def test_rest_mismatches_are_400_naming_the_input(server, body, words):
    status, document = call(server, f"/v1/models/{MODEL}:predict", body)
    assert (status, list(document)) == (400, ["error"]), document
    assert words in document["error"], document["error"]


def predict_request(**inputs) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = MODEL
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


ROW = np.float32([[1.0, 1.0, 1.0]])
BIAS = np.float32([[0.5]])


@pytest.mark.parametrize("inputs, words", [
    ({"x": np.float32([1.0, 1.0, 1.0]), "bias": BIAS}, "input x has shape [3]"),
    ({"x": np.float32([[1.0, 1.0, 1.0, 1.0]]), "bias": BIAS}, "input x has shape [1, 4]"),
    ({"x": np.array([["a", "b", "c"]]), "bias": BIAS}, "to be float but string is provided (input: x)"),
    ({"x": ROW}, "Missing but required: {bias}"),
    ({"x": ROW, "bias": BIAS, "extra": BIAS}, "Sent extra: {extra}"),
], ids=["rank", "inner-dim", "string", "missing", "extra"])
def test_grpc_mismatches_are_invalid_argument_naming_the_input(predict, inputs, words):
    with pytest.raises(grpc.RpcError) as caught:
        predict(predict_request(**inputs), timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    assert words in caught.value.details(), caught.value.details()
    answer = predict(predict_request(x=ROW, bias=BIAS), timeout=30)
    assert list(answer.outputs["y"].float_val) == [6.5]
