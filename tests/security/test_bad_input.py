"""The bad input table: each malformed input a user, a script or a client can send, and the clear error it
gets. Nothing is submitted, written or crashed by any of them; RELIABILITY.md lists the same rows.

Front ends: magic arguments, specs, CLI flags, storage URLs, the server extension's REST API, and
`hubml serve`'s REST and gRPC APIs (huge bodies included). Names and paths carry `..`, absolute paths
and shell metacharacters.
"""
from __future__ import annotations

import os

import pytest
import requests
from IPython.core.error import UsageError
from security_helpers import MAX_BODY_BYTES, start_user_server, stop

from hubml.client import Client
from hubml.exceptions import HubMLError, InvalidArgument, NotFound
from hubml.specs import DeploySpec, Resources, TrainSpec

SHELL_TRICKS = ["$(reboot)", "`id`", "a;rm -rf ~", "a|b", "a&&b", "a b", "'quoted'", "a\nb"]
PATH_TRICKS = ["../evil", "../../etc/passwd", "/etc/passwd", "a/b", "..", "~root"]

# --- magic arguments ------------------------------------------------------------------------------

MAGIC_CASES = [
    ("%%train --workers -1\nprint(1)", "--workers: -1 must be a whole number >= 0"),
    ("%%train --workers abc\nprint(1)", "argument --workers: invalid int value: 'abc'"),
    ("%%train --memory lots\nprint(1)", "--memory: 'lots' is not a memory size"),
    ("%%train --timeout -5\nprint(1)", "--timeout: -5.0 must be a positive number"),
    ("%%train --gpus 64\nprint(1)", "--gpus: the job asks for 64 gpus in all, more than this machine's capacity"),
    ("%%train --hparam lr\nprint(1)", "--hparam: 'lr' has no '='"),
    ("%%train --hparam os.system=1\nprint(1)", "--hparam: 'os.system' is not a Python identifier"),
    ("%%train --bogus\nprint(1)", "unrecognized arguments: --bogus"),
    ("%%train --wokers 2\nprint(1)", "unrecognized arguments: --wokers 2; --wokers: did you mean `--workers`?"),
    ("%deploy m --replcas 2", "--replcas: did you mean `--replicas`?"),
    ("%%train --name 'unclosed\nprint(1)", "cannot split the arguments: No closing quotation"),
    ("%%train\nprint(", "code: syntax error on line 1"),
    ("%%train --files /nonexistent\nprint(1)", "--files: '/nonexistent' does not exist"),
    ("%%train --files ..\nprint(1)", "--files: '..' would ship the current, a parent or the root folder whole"),
    ("%%train --files /\nprint(1)", "--files: '/' would ship the current, a parent or the root folder whole"),
    ("%%train --files .\nprint(1)", "--files: '.' would ship the current, a parent or the root folder whole"),
    ("%%train --requirements /nonexistent\nprint(1)", "--requirements: '/nonexistent' is not a file"),
    ("%train --package /nonexistent --module task", "--package: '/nonexistent' is not a folder"),
    ("%train --package . --module 'os;id'", "--module: \"'os;id'\" is not a dotted module name"),
    *[(f"%%train --name {name!r}\nprint(1)", "is not a valid name") for name in SHELL_TRICKS[:4] + PATH_TRICKS[:3]],
    *[(f"%logs {name}", "is not a job id") for name in ("../../etc/passwd", "$(reboot)", "/etc/passwd")],
    ("%cancel `id`", "is not a job id"),
    ("%undeploy ../x", "ENDPOINT: '../x' is not an endpoint name"),
    ("%deploy /etc --name ok", "file:///etc: no numeric version folder"),
    ("%deploy nonexistent-model", "MODEL: 'nonexistent-model' is not a model in"),
    ("%deploy /etc --name 'a;b'", "--name: \"'a;b'\" is not a valid name"),
    ("%predict nope [1.0]", "no endpoint named 'nope'"),
    ("%%deploy\nmodel: [unclosed", "%%deploy: the cell is not YAML"),
    ("%%deploy\n!!python/object/apply:os.system [\"id\"]", "%%deploy: the cell is not YAML: could not determine a constructor"),
    ("%%deploy\n- a list", "%%deploy: the cell must be a YAML mapping"),
    ("%%deploy\nmodel: x\nbogus: 1", "bogus: is not a %%deploy option"),
    ("%%tune --objective loss --param lr=__import__('os')\nprint(1)", "--param: lr: unknown distribution '__import__'"),
    ("%%tune --objective loss --param lr=uniform(1,0)\nprint(1)", "--param: lr: uniform(low, high) needs low < high"),
    ("%%tune --objective loss --trials -1 --param lr=uniform(0,1)\nprint(1)", "--trials: -1 must be a whole number >= 1"),
]


@pytest.mark.parametrize("line, message", MAGIC_CASES, ids=[case[0].split("\n")[0] for case in MAGIC_CASES])
def test_bad_magic_input_is_a_usage_error_and_submits_nothing(shell, client, hubml_home, line, message):
    with pytest.raises((UsageError, HubMLError)) as caught:
        shell.run_cell(line)
    assert message in str(caught.value)
    assert isinstance(caught.value, (UsageError, NotFound)) and getattr(caught.value, "exit_code", 2) == 2
    assert client.jobs() == [] and client.endpoints() == []
    assert not (hubml_home / "storage" / "jobs").exists() or not os.listdir(hubml_home / "storage" / "jobs")


def test_shipping_a_folder_that_holds_hubmls_storage_is_refused_before_copying(client, hubml_home, tmp_path):
    (tmp_path / "data.txt").write_text("x")
    with pytest.raises(InvalidArgument, match="holds hubml's storage"):
        client.train("print(1)", name="whole", files=[str(tmp_path)])
    assert client.jobs() == [] and list(hubml_home.rglob("data.txt")) == []


# --- specs ------------------------------------------------------------------------------------------

SPEC_CASES = [
    *[(TrainSpec, dict(name=name, code="print(1)"), "--name") for name in SHELL_TRICKS + PATH_TRICKS + ["", "A"]],
    (TrainSpec, dict(name="ok", model="../other", code="print(1)"), "--model"),
    (TrainSpec, dict(name="ok", code="print(1)", workers=True), "--workers"),
    (TrainSpec, dict(name="ok", code="print(1)", retries=-1), "--retries"),
    (TrainSpec, dict(name="ok", code="print(1)", resources=Resources(memory="1e9Zi")), "--memory"),
    (TrainSpec, dict(name="ok", code="print(1)", resources=Resources(gpus=1.5)), "--gpus"),
    (TrainSpec, dict(name="ok", code="print(1)", hparams={"__import__('os')": 1}), "--hparam"),
    (TrainSpec, dict(name="ok", package="/etc", module="os;id"), "--module"),
    (DeploySpec, dict(name="../x", model="m"), "--name"),
    (DeploySpec, dict(name="ok", model=""), "model"),
    (DeploySpec, dict(name="ok", model="m", version=-1), "--version"),
    (DeploySpec, dict(name="ok", model="m", replicas=0), "--replicas"),
]


@pytest.mark.parametrize("kind, fields, argument", SPEC_CASES, ids=[f"{c[0].__name__}-{c[2]}-{i}"
                                                                     for i, c in enumerate(SPEC_CASES)])
def test_a_bad_spec_is_refused_naming_its_field(kind, fields, argument):
    with pytest.raises(InvalidArgument) as caught:
        kind(**fields).validate()
    assert caught.value.argument == argument


@pytest.mark.parametrize("kind", ["job", "endpoint", "sweep"])
@pytest.mark.parametrize("name", SHELL_TRICKS + PATH_TRICKS)
def test_ids_that_reach_paths_and_process_tables_are_checked_first(client, kind, name):
    lookup = {"job": client.job, "endpoint": client.endpoint, "sweep": client.sweep}[kind]
    with pytest.raises(InvalidArgument, match="is not a"):
        lookup(name)


# --- CLI flags --------------------------------------------------------------------------------------

CLI_CASES = [
    (["jobs", "submit", "--workers", "-3", "job.py"], "--workers: -3 must be a whole number >= 0"),
    (["jobs", "submit", "--memory", "1e9Zi", "job.py"], "--memory: '1e9Zi' is not a memory size"),
    (["jobs", "submit", "missing.py"], "SCRIPT: 'missing.py' is not a file"),
    (["jobs", "submit", "job.py", "--files", ".."], "--files: '..' would ship"),
    (["jobs", "logs", "../../etc"], "JOB: '../../etc' is not a job id"),
    (["jobs", "describe", "a;b"], "JOB: 'a;b' is not a job id"),
    (["jobs", "cancel", "$(id)"], "JOB: '$(id)' is not a job id"),
    (["endpoints", "undeploy", "../x"], "ENDPOINT: '../x' is not an endpoint name"),
    (["endpoints", "deploy", "/etc", "--name", "ok"], "no numeric version folder"),
    (["models", "describe", "../x"], "MODEL: '../x' is not a model name"),
    (["jobs", "list", "--output", "xml"], "invalid choice: 'xml'"),
    (["jobs", "submit", "--workers", "two", "job.py"], "invalid int value: 'two'"),
    (["jobs", "submit", "job.py", "--wokers", "2"], "--wokers: did you mean `--workers`?"),
    (["jobs", "describe", "no-such-job-000000"], "no job named 'no-such-job-000000'"),
    (["endpoints", "describe", "nosuch"], "no endpoint named 'nosuch'"),
    (["models", "describe", "nosuch"], "no model named 'nosuch'"),
]


@pytest.mark.parametrize("argv, message", CLI_CASES, ids=[" ".join(case[0][:3]) for case in CLI_CASES])
def test_bad_cli_input_exits_2_with_the_message(hubml_home, tmp_path, argv, message, capsys):
    from hubml.cli import main

    (tmp_path / "job.py").write_text("print(1)\n")
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own refusals
        code = exit_.code
    assert code == 2
    assert message in capsys.readouterr().err
    assert Client().jobs() == []


@pytest.mark.parametrize("url, message", [
    ("gopher://host/x", "'gopher' is not a storage protocol"),
    ("s3://", "'s3://' names no bucket"),
    ("relative/folder", "is relative"),
    ("file://relative", "is relative"),
    ("s3://bucket/../other", "has a '..' part"),
    ("/srv/../etc", "has a '..' part"),
])
def test_a_bad_storage_url_is_refused_before_anything_is_written(hubml_home, monkeypatch, url, message):
    monkeypatch.setenv("HUBML_STORAGE", url)
    with pytest.raises(InvalidArgument, match="storage: .*" + message.replace("(", r"\(")):
        Client()
    assert not hubml_home.exists()


# --- the server extension's REST API ----------------------------------------------------------------

@pytest.fixture(scope="module")
def user_server(tmp_path_factory):
    server = start_user_server("carol", tmp_path_factory.mktemp("extension"))
    yield server
    stop(server.process)


EXTENSION_CASES = [
    ("GET", "jobs/..%2F..%2Fetc%2Fpasswd", None, 400, "is not a job id"),
    ("GET", "jobs/%24(reboot)", None, 400, "is not a job id"),
    ("POST", "jobs/a%3Brm%20-rf%20~/cancel", None, 400, "is not a job id"),
    ("GET", "jobs/nope-000000/logs?cursor=not-json", None, 400, "cursor: is not JSON"),
    ("GET", "jobs/nope-000000/logs?cursor=%5B1%5D", None, 400, "cursor: must be the JSON object"),
    ("GET", "jobs/nope-000000/logs?limit=0", None, 400, "limit: must be a whole number"),
    ("GET", "jobs/nope-000000/logs?limit=-5", None, 400, "limit: must be a whole number"),
    ("GET", "jobs/nope-000000", None, 404, "no job named 'nope-000000'"),
    ("POST", "endpoints", b"not json", 400, "the request body is not JSON"),
    ("POST", "endpoints", b"[1, 2]", 400, "must be a JSON object"),
    ("POST", "endpoints", b'{"job": 5}', 400, "needs a non-empty str 'job'"),
    ("POST", "endpoints", b'{"job": "../../x"}', 400, "is not a job id"),
    ("POST", "endpoints", b"{" * 100000, 400, "the request body is not JSON"),
    ("DELETE", "endpoints/..%2Fx", None, 400, "is not an endpoint name"),
    ("POST", "endpoints/nope/predict", b"{}", 400, "send TF Serving's predict JSON"),
    ("GET", "sweeps/..%2F..", None, 400, "is not"),
]


@pytest.mark.parametrize("method, path, body, status, message", EXTENSION_CASES,
                         ids=[f"{case[0]} {case[1][:40]}" for case in EXTENSION_CASES])
def test_bad_requests_to_the_server_extension_get_a_clear_4xx(user_server, method, path, body, status, message):
    answer = user_server.api(method, path, data=body)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["message"]


# --- hubml serve: REST ----------------------------------------------------------------------------

PREDICT = "/v1/models/half_plus_two:predict"
REST_CASES = [
    ("POST", PREDICT, b"not json", 400, "JSON"),
    ("POST", PREDICT, b"[1, 2]", 400, ""),
    ("POST", PREDICT, b"{}", 400, "instances"),
    ("POST", PREDICT, b'{"instances": "abc"}', 400, ""),
    ("POST", PREDICT, b'{"instances": [["a"]]}', 400, ""),
    ("POST", PREDICT, b'{"instances": [1.0], "inputs": [1.0]}', 400, ""),
    ("POST", PREDICT, b'{"instances": [[1.0, 2.0], [3.0]]}', 400, ""),
    ("POST", PREDICT, b'{"signature_name": "nope", "instances": [1.0]}', 400, "nope"),
    ("POST", PREDICT, b"[" * 30000 + b"]" * 30000, 400, ""),
    ("POST", PREDICT, b'{"instances": [' + b"1.0, " * 20000 + b"1.0]}", 413, str(MAX_BODY_BYTES)),
    ("POST", "/v1/models/..%2F..%2Fetc:predict", b'{"instances": [1.0]}', 404, ""),
    ("POST", "/v1/models/$(reboot):predict", b'{"instances": [1.0]}', 404, ""),
    ("POST", "/v1/models/half_plus_two/versions/999:predict", b'{"instances": [1.0]}', 404, ""),
    ("POST", "/v1/models/half_plus_two:explode", b'{"instances": [1.0]}', 400, ""),
    ("GET", "/v1/models/nope", None, 404, ""),
]


@pytest.mark.parametrize("method, path, body, status, message", REST_CASES,
                         ids=[f"{case[1][-28:]} {(case[2] or b'')[:24]!r}" for case in REST_CASES])
def test_bad_rest_requests_to_hubml_serve_get_a_tf_serving_error(serve_process, method, path, body, status, message):
    answer = requests.request(method, serve_process.rest_url + path, data=body, timeout=60)
    assert answer.status_code == status, answer.text[:300]
    assert message in answer.json()["error"]
    healthy = requests.post(serve_process.rest_url + PREDICT, json={"instances": [2.0]}, timeout=60)
    assert healthy.json() == {"predictions": [3.0]}, "the server keeps serving"


def test_a_declared_huge_body_is_refused_before_it_is_read(serve_process):
    import http.client
    from urllib.parse import urlsplit

    target = urlsplit(serve_process.rest_url)
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
    connection.putrequest("POST", PREDICT)
    connection.putheader("Content-Length", str(10 * 2**30))
    connection.endheaders()
    connection.send(b'{"instances": [')
    response = connection.getresponse()
    assert response.status == 413
    connection.close()


# --- hubml serve: gRPC ----------------------------------------------------------------------------

def grpc_cases():
    import grpc

    return [
        (lambda r: setattr(r.model_spec, "name", "../../etc"), grpc.StatusCode.NOT_FOUND),
        (lambda r: setattr(r.model_spec, "name", "$(reboot)"), grpc.StatusCode.NOT_FOUND),
        (lambda r: r.inputs.clear(), grpc.StatusCode.INVALID_ARGUMENT),
        (lambda r: r.inputs["x"].tensor_shape.dim.add(size=-7), grpc.StatusCode.INVALID_ARGUMENT),
        (lambda r: r.inputs["x"].float_val.extend([0.0] * 20000), grpc.StatusCode.RESOURCE_EXHAUSTED),
    ]


@pytest.mark.parametrize("case", range(5), ids=["name-dotdot", "name-shell", "no-inputs", "bad-shape", "huge"])
def test_bad_grpc_requests_to_hubml_serve_get_a_tf_serving_code(serve_process, case):
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    change, code = grpc_cases()[case]
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "half_plus_two"
    request.inputs["x"].CopyFrom(tf.make_tensor_proto([1.0], dtype=tf.float32))
    change(request)
    with grpc.insecure_channel(serve_process.grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Predict(request, timeout=60)
        assert caught.value.code() == code, caught.value.details()
        good = predict_pb2.PredictRequest()
        good.model_spec.name = "half_plus_two"
        good.inputs["x"].CopyFrom(tf.make_tensor_proto([2.0], dtype=tf.float32))
        assert tf.make_ndarray(stub.Predict(good, timeout=60).outputs["y"]).tolist() == [3.0]
