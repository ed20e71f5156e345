"""Every `/hubml/api/` route through a real Jupyter server (pytest-jupyter), on real local-backend jobs."""
from __future__ import annotations

import importlib
import json
import threading

import pytest
import tornado.httpclient


def body(response) -> dict:
    return json.loads(response.body)


async def fetch_error(jp_fetch, *parts, **kwargs) -> tornado.httpclient.HTTPClientError:
    with pytest.raises(tornado.httpclient.HTTPClientError) as raised:
        await jp_fetch("hubml", "api", *parts, **kwargs)
    return raised.value


async def test_unauthenticated_requests_are_refused(jp_fetch, submit, wait_for_line):
    job = submit("sleeper")
    wait_for_line(job, "ready")
    wrong = {"Authorization": "token wrong"}
    assert (await fetch_error(jp_fetch, "jobs", headers=wrong)).code == 403
    assert (await fetch_error(jp_fetch, "jobs", job.id, method="DELETE", headers=wrong)).code == 403
    assert (await fetch_error(jp_fetch, "jobs", job.id, "cancel", method="POST", body="", headers=wrong)).code == 403
    assert job.state == "RUNNING"


async def test_a_method_a_route_does_not_offer_is_405(jp_fetch):
    assert (await fetch_error(jp_fetch, "jobs", method="DELETE")).code == 405
    assert (await fetch_error(jp_fetch, "sweeps", method="POST", body="{}")).code == 405


async def test_list_and_describe_jobs(jp_fetch, submit):
    job = submit("ticker").wait()
    listed = body(await jp_fetch("hubml", "api", "jobs"))["jobs"]
    assert [(item["id"], item["state"]) for item in listed] == [(job.id, "SUCCEEDED")]
    described = body(await jp_fetch("hubml", "api", "jobs", job.id))
    assert described["metrics"][-1]["epoch"] == 3


async def test_unknown_job_is_404_json_and_bad_id_is_400(jp_fetch):
    missing = await fetch_error(jp_fetch, "jobs", "nope-000000")
    assert missing.code == 404
    assert "nope-000000" in json.loads(missing.response.body)["message"]
    malformed = await fetch_error(jp_fetch, "jobs", "Bad_Id")
    assert malformed.code == 400


async def test_logs_paged_with_cursor(jp_fetch, submit):
    job = submit("chatty").wait()
    first = body(await jp_fetch("hubml", "api", "jobs", job.id, "logs", params={"limit": "3"}))
    assert len(first["lines"]) == 3 and first["more"] and not first["final"]
    rest = body(await jp_fetch("hubml", "api", "jobs", job.id, "logs",
                               params={"cursor": json.dumps(first["cursor"])}))
    texts = [line["text"] for line in first["lines"] + rest["lines"]]
    assert [text for text in texts if text.startswith("line")] == [f"line {i}" for i in range(5)]
    assert rest["final"] and not rest["more"]


async def test_logs_bad_cursor_is_400(jp_fetch, submit):
    job = submit("chatty")
    error = await fetch_error(jp_fetch, "jobs", job.id, "logs", params={"cursor": "{oops"})
    assert error.code == 400 and "cursor" in json.loads(error.response.body)["message"]


async def test_logs_follow_long_polls_until_the_next_line(jp_fetch, submit, wait_for_line):
    job = submit("ticker")
    wait_for_line(job, "epoch 1")
    cursor = body(await jp_fetch("hubml", "api", "jobs", job.id, "logs"))["cursor"]
    page = body(await jp_fetch("hubml", "api", "jobs", job.id, "logs",
                               params={"cursor": json.dumps(cursor), "follow": "1"}))
    assert page["lines"][0]["text"] == "epoch 2"


async def test_cancel_by_delete_and_by_post(jp_fetch, submit, wait_for_line):
    first, second = submit("sleeper", name="first"), submit("sleeper", name="second")
    wait_for_line(first, "ready")
    wait_for_line(second, "ready")
    deleted = body(await jp_fetch("hubml", "api", "jobs", first.id, method="DELETE"))
    posted = body(await jp_fetch("hubml", "api", "jobs", second.id, "cancel", method="POST", body=""))
    assert deleted["state"] == posted["state"] == "CANCELLED"


async def test_deploy_without_a_model_is_400(jp_fetch, submit):
    job = submit("chatty").wait()
    error = await fetch_error(jp_fetch, "endpoints", method="POST", body=json.dumps({"job": job.id}))
    assert error.code == 400 and job.id in json.loads(error.response.body)["message"]
    not_json = await fetch_error(jp_fetch, "endpoints", method="POST", body="{not json")
    assert not_json.code == 400


async def test_endpoint_lifecycle_deploy_list_predict_undeploy(jp_fetch, submit, client, eventually):
    # The server runs in this process and its first predict loads TensorFlow's protos: load them while the job runs.
    warm_up = threading.Thread(target=importlib.import_module, args=("tensorflow",), daemon=True)
    warm_up.start()
    job = submit("exporter", name="doubler").wait(timeout=120)
    created = body(await jp_fetch("hubml", "api", "endpoints", method="POST",
                                  body=json.dumps({"job": job.id, "name": "doubler"})))
    assert created["name"] == "doubler" and created["state"] in ("PENDING", "READY")
    eventually(lambda: client.endpoint("doubler").state != "PENDING", timeout=90)
    assert client.endpoint("doubler").state == "READY", client.endpoint("doubler").record
    listed = body(await jp_fetch("hubml", "api", "endpoints"))["endpoints"]
    assert [(item["name"], item["state"], item["versions"]) for item in listed] == [("doubler", "READY", [1])]

    warm_up.join()
    answer = body(await jp_fetch("hubml", "api", "endpoints", "doubler", "predict", method="POST",
                                 body=json.dumps({"instances": [[1.0, 2.0]]})))
    assert answer == {"predictions": [[2.0, 4.0]]}
    wrong_input = await fetch_error(jp_fetch, "endpoints", "doubler", "predict", method="POST",
                                    body=json.dumps({"inputs": {"nope": [[1.0, 2.0]]}}))
    assert wrong_input.code == 400 and "INVALID_ARGUMENT" in json.loads(wrong_input.response.body)["message"]
    not_tf_serving = await fetch_error(jp_fetch, "endpoints", "doubler", "predict", method="POST",
                                       body=json.dumps({"rows": []}))
    assert not_tf_serving.code == 400
    words = await fetch_error(jp_fetch, "endpoints", "doubler", "predict", method="POST",
                              body=json.dumps({"instances": [["one", "two"]]}))
    assert words.code == 400 and "cannot be sent as DT_FLOAT" in words.response.body.decode()

    gone = body(await jp_fetch("hubml", "api", "endpoints", "doubler", method="DELETE"))
    assert gone == {"name": "doubler", "undeployed": True}
    assert (await fetch_error(jp_fetch, "endpoints", "doubler", method="DELETE")).code == 404
    assert client.endpoints() == []


async def test_sweeps_list_and_describe(jp_fetch, tune):
    sweep = tune((1, 2, 3)).wait(timeout=60)
    listed = body(await jp_fetch("hubml", "api", "sweeps"))["sweeps"]
    assert [(item["id"], item["state"]) for item in listed] == [(sweep.id, "SUCCEEDED")]
    described = body(await jp_fetch("hubml", "api", "sweeps", sweep.id))
    assert len(described["trials"]) == 3 and described["spec"]["objective"] == "score"
    best = next(trial for trial in described["trials"] if trial["number"] == described["best"])
    assert best["params"] == {"x": 2}
    assert (await fetch_error(jp_fetch, "sweeps", "nope-000000")).code == 404


async def test_tensorboard_for_a_job_answers_http(jp_fetch, submit, client):
    from hubml.tensorboard import running

    job = submit("chatty").wait()
    try:
        board = body(await jp_fetch("hubml", "api", "jobs", job.id, "tensorboard", method="POST", body="",
                                    request_timeout=180))
        assert board["job"] == job.id and board["runs"] == [job.id]
        # The address the browser gets is through this server's proxy, and answers there.
        prefix, port = board["url"].rstrip("/").rsplit("/", 1)
        assert prefix.endswith("/proxy") and port.isdigit()
        environment = await jp_fetch("proxy", port, "data", "environment", request_timeout=30)
        assert environment.code == 200 and "window_title" in body(environment)
    finally:
        for started in running(client):
            started.stop()
    assert (await fetch_error(jp_fetch, "jobs", "nope-000000", "tensorboard", method="POST", body="")).code == 404
