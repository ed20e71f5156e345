"""`hubml endpoints ...` and `hubml models ...`, each command in a fresh process: the endpoint outlives the command that deployed it."""
import json
import shutil

from deploy_helpers import hubml, serving_processes


def test_endpoints_deploy_list_describe_predict_undeploy(hubml_home, two_versions):
    deployed = json.loads(hubml("endpoints", "deploy", str(two_versions), "--name", "hp", "--output", "json").stdout)
    assert deployed["state"] == "READY" and deployed["versions"] == [2]  # no --version: the highest

    listed = json.loads(hubml("endpoints", "list", "--output", "json").stdout)
    assert [(e["name"], e["state"], e["rest_url"]) for e in listed] == [("hp", "READY", deployed["rest_url"])]
    assert "hp        READY  halves  2" in hubml("endpoints", "list").stdout
    assert json.loads(hubml("endpoints", "describe", "hp", "--output", "json").stdout)["pid"] == deployed["pid"]

    answer = hubml("endpoints", "predict", "hp", "--protocol", "rest", '{"instances": [1.0, 2.0, 5.0]}').stdout
    assert json.loads(answer) == [3.5, 4.0, 5.5]  # version 2 halves and adds three

    failed = hubml("endpoints", "predict", "hp", "{not json", check=False)
    assert failed.returncode == 2 and "JSON: the payload is not JSON" in failed.stderr
    assert hubml("endpoints", "describe", "nope", check=False).stderr.strip() == "hubml: error: no endpoint named 'nope'"

    assert hubml("endpoints", "undeploy", "hp").stdout.strip() == "hp undeployed"
    assert json.loads(hubml("endpoints", "list", "--output", "json").stdout) == []
    assert serving_processes(hubml_home) == []


def test_endpoints_deploy_refuses_a_folder_without_the_layout(tmp_path, hubml_home):
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "saved_model.pb").write_bytes(b"")
    result = hubml("endpoints", "deploy", str(tmp_path / "flat"), check=False)
    assert result.returncode == 2
    assert f"{tmp_path}/flat/1/saved_model.pb" in result.stderr
    assert json.loads(hubml("endpoints", "list", "--output", "json").stdout) == []


COPY_MODEL = """
import os, shutil
shutil.copytree(SOURCE, os.environ["HUBML_MODEL_DIR"], dirs_exist_ok=True)
import hubml
hubml.report(step=1, epoch=1, epochs=1, loss=0.25)
"""


def test_models_list_and_describe_show_each_versions_job_metrics_and_endpoints(hubml_home, two_versions, client):
    from hubml import storage

    models = storage.local_path(storage.join(client.settings.storage, "models"))
    shutil.copytree(two_versions / "1", f"{models}/halves/1")  # copied in by hand: no producing job
    job = client.train(COPY_MODEL, name="halves-job", model="halves",
                       hparams={"SOURCE": str(two_versions / "2")}).wait(timeout=120)
    assert job.model["version"] == 2
    hubml("endpoints", "deploy", "halves", "--name", "hv")

    [listed] = json.loads(hubml("models", "list", "--output", "json").stdout)
    assert listed["name"] == "halves" and [v["version"] for v in listed["versions"]] == [2, 1]
    latest, first = listed["versions"]
    assert (latest["job"], latest["metrics"], latest["endpoints"]) == (job.id, {"epoch": 1, "epochs": 1, "loss": 0.25},
                                                                         ["hv"])
    assert (first["job"], first["metrics"], first["endpoints"]) == (None, {}, [])
    text = hubml("models", "list").stdout
    assert text.splitlines()[1].split()[:5] == ["halves", "2", "2", job.id, "hv"]
    described = hubml("models", "describe", "halves").stdout.splitlines()
    assert described[2].split()[:2] == ["2", job.id] and "epoch 1/1 · loss 0.25" in described[2]
    assert described[2].split()[-1] == "hv" and described[3].split()[1] == "-"
    missing = hubml("models", "describe", "nosuch", check=False)
    assert missing.returncode == 2 and "no model named 'nosuch'" in missing.stderr
