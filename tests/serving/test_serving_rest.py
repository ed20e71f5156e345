"""TF Serving's REST API, called over HTTP on a real `hubml serve` with TF Serving's own test models."""
from __future__ import annotations

import base64
import json
import urllib.request

import pytest
from rest_calls import call, ok
from tensorflow.core.example import example_pb2, feature_pb2


@pytest.mark.parametrize("model", ["half_plus_two", "half_plus_two_tf2"])
def test_row_and_columnar_predict_match_tf_serving(model_server, model):
    assert ok(model_server, f"/v1/models/{model}:predict", {"instances": [1.0, 2.0, 5.0]}) == \
        {"predictions": [2.5, 3.0, 4.5]}
    assert ok(model_server, f"/v1/models/{model}/versions/123:predict", {"inputs": {"x": [1.0, 2.0]}}) == \
        {"outputs": [2.5, 3.0]}
    assert ok(model_server, f"/v1/models/{model}:predict", {"instances": [{"x": 3.0}]}) == {"predictions": [3.5]}


def test_half_plus_three_and_integer_inputs(model_server):
    assert ok(model_server, "/v1/models/half_plus_three:predict", {"instances": [1, 2, 5]}) == \
        {"predictions": [3.5, 4.0, 5.5]}


def test_status_and_metadata_match_tf_serving(model_server, testdata):
    assert ok(model_server, "/v1/models/half_plus_two") == {"model_version_status": [
        {"version": "123", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}
    metadata = ok(model_server, "/v1/models/half_plus_two/versions/123/metadata")
    expected = json.loads((testdata / "half_plus_two_model_metadata.json").read_text())
    expected["model_spec"]["name"] = "half_plus_two"
    assert metadata == expected


def test_classify_and_regress_with_examples(model_server):
    examples = {"signature_name": "classify_x_to_y", "examples": [{"x": 1.0}, {"x": 4.0}]}
    assert ok(model_server, "/v1/models/half_plus_two:classify", examples) == {"results": [[["", 2.5]], [["", 4.0]]]}
    regress = {"signature_name": "regress_x_to_y2", "examples": [{"x": 1.0}], "context": {"unused": "text"}}
    assert ok(model_server, "/v1/models/half_plus_two:regress", regress) == {"results": [3.5]}


def test_b64_strings_reach_a_string_input(model_server):
    example = example_pb2.Example(features=feature_pb2.Features(
        feature={"x": feature_pb2.Feature(float_list=feature_pb2.FloatList(value=[6.0]))}))
    encoded = base64.b64encode(example.SerializeToString()).decode()
    body = {"signature_name": "classify_x_to_y", "instances": [{"b64": encoded}]}
    assert ok(model_server, "/v1/models/half_plus_two:predict", body) == {"predictions": [[5.0]]}


def test_counter_keeps_state_between_requests(model_server):
    """Its input-less signatures are refused over REST, as TF Serving's REST handler refuses them
    ("Failed to get input map"); gRPC runs them (test_serving_tf_serving_expectations)."""
    status, document = call(model_server, "/v1/models/counter:predict", {"signature_name": "reset_counter",
                                                                         "inputs": {}})
    assert (status, document) == (400, {"error": "Failed to get input map for signature: reset_counter"})
    before = ok(model_server, "/v1/models/counter:predict", {"signature_name": "incr_counter_by", "inputs": {"delta": 0.0}})
    after = ok(model_server, "/v1/models/counter:predict",
               {"signature_name": "incr_counter_by", "inputs": {"delta": 3.0}})
    assert after == {"outputs": before["outputs"] + 3.0}


def test_version_policy_and_labels_from_the_config_file(model_server):
    statuses = ok(model_server, "/v1/models/labelled")["model_version_status"]
    assert [(s["version"], s["state"]) for s in statuses] == [("2", "AVAILABLE"), ("1", "AVAILABLE")]
    body = {"instances": [2.0]}
    assert ok(model_server, "/v1/models/labelled:predict", body) == {"predictions": [4.0]}  # latest: half_plus_three
    assert ok(model_server, "/v1/models/labelled/labels/stable:predict", body) == {"predictions": [3.0]}
    assert ok(model_server, "/v1/models/labelled/labels/canary:predict", body) == {"predictions": [4.0]}
    assert ok(model_server, "/v1/models/labelled/labels/stable")["model_version_status"][0]["version"] == "1"
    assert ok(model_server, "/v1/models/labelled/versions/1/metadata")["model_spec"]["version"] == "1"


BAD_REQUESTS = [
    # (path, body, HTTP status, words of the error)
    ("/v1/models/half_plus_two:predict", b'{"instances": [1.0,', 400, "JSON Parse error"),
    ("/v1/models/half_plus_two:predict", {"instances": [{"y": 1.0}]}, 400, "does not have named input: y"),
    ("/v1/models/half_plus_two:predict", {"instances": ["a", "b"]}, 400, 'JSON Value: "a" Type: String is not of '
                                                                         'expected type: float'),
    ("/v1/models/half_plus_two:predict", {"instances": [[1.0], [2.0, 3.0]]}, 400, "Expecting tensor size: 1 but got: 2"),
    ("/v1/models/half_plus_two:predict", {"signature_name": "classify_x_to_y", "inputs": [["not an example"]]}, 400,
     "serialized"),  # a matrix where ParseExample wants a vector: TensorFlow's own shape error
    ("/v1/models/half_plus_two:predict", {"rows": [1.0]}, 400, "Missing 'inputs' or 'instances' key"),
    ("/v1/models/nope:predict", {"instances": [1.0]}, 404, "Servable not found for request: Latest(nope)"),
    ("/v1/models/half_plus_two/versions/7:predict", {"instances": [1.0]}, 404, "Specific(half_plus_two, 7)"),
    ("/v1/models/labelled/labels/nope:predict", {"instances": [1.0]}, 400, "Unrecognized servable version label: nope"),
    ("/v1/models/labelled/versions/3:predict", {"instances": [1.0]}, 404, "Specific(labelled, 3)"),
    ("/v1/models/half_plus_two:predict", {"signature_name": "nope", "instances": [1.0]}, 400,
     'Serving signature name: "nope" not found in signature def'),
    ("/v1/models/half_plus_two:classify", {"examples": [{"x": 1.0}]}, 400, "Expected classification signature"),
    ("/v1/models/half_plus_two:explode", {"instances": [1.0]}, 400, "Malformed request"),
    ("/v1/models/nope", None, 404, "Could not find any versions of model nope"),
    ("/v1/models/half_plus_two:predict", {"instances": [0.5] * 20000}, 413, "exceeds the server's limit"),
]


@pytest.mark.parametrize("path, body, status, words", BAD_REQUESTS, ids=[f"{i}" for i in range(len(BAD_REQUESTS))])
def test_bad_requests_get_tf_serving_errors_and_the_server_keeps_serving(model_server, path, body, status, words):
    got_status, document = call(model_server, path, body)
    assert (got_status, list(document)) == (status, ["error"]), document
    assert words in document["error"]
    assert ok(model_server, "/v1/models/half_plus_two:predict", {"instances": [1.0]}) == {"predictions": [2.5]}


def test_prometheus_metrics_count_requests_and_latency(model_server):
    ok(model_server, "/v1/models/half_plus_two:predict", {"instances": [1.0]})
    call(model_server, "/v1/models/nope:predict", {"instances": [1.0]})
    with urllib.request.urlopen(model_server.rest_url + "/monitoring/prometheus/metrics", timeout=10) as response:
        page = response.read().decode()
    assert ':tensorflow:serving:request_count_total{API="predict",entrypoint="REST",model_name="half_plus_two",' \
           'status="OK"}' in page
    assert 'model_name="nope",status="NOT_FOUND"' in page
    assert ":tensorflow:serving:request_latency_bucket" in page


def test_a_chunked_body_over_the_limit_is_refused_too(model_server):
    chunks = iter([b'{"instances": [' + b"0.5," * 10000, b"0.5," * 10000 + b"0.5]}"])
    status, document = call(model_server, "/v1/models/half_plus_two:predict", chunks, method="POST")
    assert status == 413 and "exceeds the server's limit of 65536 bytes" in document["error"]
    assert ok(model_server, "/v1/models/half_plus_two:predict", {"instances": [1.0]}) == {"predictions": [2.5]}
