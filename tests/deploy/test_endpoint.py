"""The `Endpoint` handle on the local backend: predict over gRPC and REST, versions, restarts, undeploy."""
import os
import signal
import time

import numpy as np
import pytest
from deploy_helpers import serving_processes

from hubml.exceptions import EndpointFailed, InvalidArgument, NotFound


def test_a_pinned_version_is_served_and_a_killed_server_comes_back_on_the_same_address(shell, client, two_versions,
                                                                                          hubml_home, capsys):
    endpoint = shell.run_cell(f"%%deploy\nmodel: {two_versions}\nname: halves\nversion: 1")
    assert shell.user_ns["_"] is endpoint
    assert (endpoint.state, endpoint.versions, endpoint.model) == ("READY", [1], "halves")
    shell.run_cell("rows = [[1.0], [4.0]]")
    capsys.readouterr()
    shell.run_cell("%predict halves --protocol rest rows")
    shell.run_line_magic("endpoints", "")
    printed = capsys.readouterr().out
    assert printed.startswith("[[2.5], [4.0]]\n") and "halves    READY  halves  1" in printed
    assert "Endpoint halves READY" in repr(endpoint) and endpoint.predict_url in repr(endpoint)
    assert endpoint.to_json()["model_uri"] == f"file://{two_versions}"
    with pytest.raises(InvalidArgument, match="an endpoint named 'halves' already exists"):
        client.deploy(str(two_versions), name="halves")
    np.testing.assert_allclose(endpoint.predict([1.0, 4.0]), [2.5, 4.0])  # version 1: x / 2 + 2, not + 3
    np.testing.assert_allclose(endpoint.predict([[6.0]], protocol="rest"), [[5.0]])
    signature = endpoint.metadata()["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert list(signature["inputs"]) == ["x"]
    addresses = (endpoint.rest_url, endpoint.grpc_target)

    server = client.backend.store.get("endpoint-process", "halves")["serve_pid"]
    os.kill(server, signal.SIGKILL)
    deadline = time.time() + 90
    while endpoint.record.get("restarts", 0) < 1 or endpoint.state != "READY":
        assert time.time() < deadline, endpoint.record
        time.sleep(0.2)
    assert (endpoint.rest_url, endpoint.grpc_target) == addresses
    np.testing.assert_allclose(endpoint.predict([2.0], protocol="rest"), [3.0])

    endpoint.undeploy()
    with pytest.raises(NotFound):
        client.endpoint("halves")
    assert serving_processes(hubml_home) == [] and "undeployed" in repr(endpoint)


def test_a_model_that_does_not_load_fails_the_deploy_with_the_server_log_and_is_removed(client, tmp_path,
                                                                                          hubml_home):
    base = tmp_path / "broken" / "1"
    base.mkdir(parents=True)
    (base / "saved_model.pb").write_bytes(b"not a protobuf")
    with pytest.raises(EndpointFailed) as error:
        client.deploy(str(base.parent))
    assert error.value.state == "FAILED" and "the model does not load: version 1: Cannot parse" in error.value.reason
    assert "removed" in str(error.value)
    assert client.endpoints() == [] and serving_processes(hubml_home) == []


def test_a_server_whose_endpoint_was_forgotten_stops_by_itself(client, two_versions, hubml_home):
    """An endpoint's record removed behind its back (its HUBML_HOME wiped, say): nothing keeps serving unlisted."""
    client.deploy(str(two_versions), name="orphan", wait=False)
    deadline = time.time() + 30
    while len(serving_processes(hubml_home)) < 2:  # the supervisor and its hubml serve
        assert time.time() < deadline
        time.sleep(0.1)
    client.backend.store.delete("endpoint", "orphan")
    while serving_processes(hubml_home):
        assert time.time() < deadline + 30, serving_processes(hubml_home)
        time.sleep(0.2)
