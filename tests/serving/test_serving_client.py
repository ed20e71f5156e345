"""`PredictClient` against a real `hubml serve`, over both protocols."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from hubml.exceptions import InvalidArgument, ServingError
from hubml.serving.client import PredictClient


@pytest.fixture(scope="module")
def clients(model_server):
    def make(model: str) -> PredictClient:
        return PredictClient(model_server.grpc_target, model_server.rest_url, model)

    return make


@pytest.mark.parametrize("protocol", ["grpc", "rest"])
def test_predict_returns_arrays_of_the_signature_dtype(clients, protocol):
    client = clients("half_plus_two")
    result = client.predict([[1.0], [2.0], [5.0]], protocol=protocol)
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, [[2.5], [3.0], [4.5]])
    np.testing.assert_array_equal(client.predict({"x": np.float64([1.0])}, protocol=protocol), [2.5])
    labelled = clients("labelled")
    assert labelled.predict([2.0], version_label="stable", protocol=protocol).tolist() == [3.0]
    assert labelled.predict([2.0], version=2, protocol=protocol).tolist() == [4.0]


@pytest.mark.parametrize("protocol", ["grpc", "rest"])
def test_classify_regress_metadata_status(clients, protocol):
    client = clients("half_plus_two")
    assert client.classify([{"x": 1.0}, {"x": 4.0}], signature_name="classify_x_to_y", protocol=protocol) == \
        [[("", 2.5)], [("", 4.0)]]
    assert client.regress([{"x": 2.0}], signature_name="regress_x_to_y", protocol=protocol).tolist() == [3.0]
    metadata = client.metadata(protocol=protocol)
    assert metadata["model_spec"] == {"name": "half_plus_two", "version": "123", "signature_name": ""}
    assert set(metadata["metadata"]["signature_def"]["signature_def"]) >= {"serving_default", "classify_x_to_y"}
    assert client.status(protocol=protocol) == [
        {"version": "123", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]


@pytest.mark.parametrize("protocol", ["grpc", "rest"])
def test_server_errors_become_serving_errors_with_the_servers_text(clients, protocol):
    with pytest.raises(ServingError) as caught:
        clients("half_plus_two").predict([1.0], version=99, protocol=protocol)
    assert caught.value.code == "NOT_FOUND"
    assert "Specific(half_plus_two, 99)" in caught.value.message
    with pytest.raises(ServingError) as caught:
        clients("nope").status(protocol=protocol)
    assert "Could not find any versions of model nope" in str(caught.value)
    with pytest.raises(ServingError) as caught:
        clients("half_plus_two").predict(["text"], signature_name="classify_x_to_y", protocol=protocol)
    assert caught.value.code == "INVALID_ARGUMENT"


def test_unreachable_server_and_bad_arguments():
    client = PredictClient("127.0.0.1:1", "http://127.0.0.1:1", "m", timeout=2)
    with pytest.raises(ServingError) as caught:
        client.status(protocol="rest")
    assert caught.value.code == "UNAVAILABLE"
    with pytest.raises(ServingError) as caught:
        client.status(protocol="grpc")
    assert caught.value.code in ("UNAVAILABLE", "DEADLINE_EXCEEDED")
    with pytest.raises(InvalidArgument):
        client.status(protocol="carrier-pigeon")
    with pytest.raises(InvalidArgument):
        PredictClient(None, None, "m")


# Run where `import tensorflow` fails, as in a notebook without it installed.
WITHOUT_TENSORFLOW = """
import json, sys
for name in ("tensorflow", "tensorflow_serving", "grpc"):
    sys.modules[name] = None
from hubml.serving.client import PredictClient
client = PredictClient(None, sys.argv[1], "half_plus_two")
print(json.dumps({
    "predict": client.predict([1.0, 2.0], protocol="rest").tolist(),
    "classify": client.classify([{"x": 2.0}], signature_name="classify_x_to_y", protocol="rest"),
    "regress": client.regress([{"x": 2.0}], signature_name="regress_x_to_y", protocol="rest").tolist(),
    "status": client.status(protocol="rest")[0]["state"],
}))
"""


def test_rest_calls_need_no_tensorflow(model_server):
    result = subprocess.run([sys.executable, "-c", WITHOUT_TENSORFLOW, model_server.rest_url], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"predict": [2.5, 3.0], "classify": [[["", 3.0]]], "regress": [3.0],
                                         "status": "AVAILABLE"}
