"""`hubml models ...`, each command in a fresh process: the endpoint outlives the command that deployed it."""
import json

from deploy_helpers import hubml, serving_processes


def test_models_deploy_list_describe_predict_undeploy(hubml_home, two_versions):
    deployed = json.loads(hubml("models", "deploy", str(two_versions), "--name", "hp", "--output", "json").stdout)
    assert deployed["state"] == "READY" and deployed["versions"] == [2]  # no --version: the highest

    listed = json.loads(hubml("models", "list", "--output", "json").stdout)
    assert [(e["name"], e["state"], e["rest_url"]) for e in listed] == [("hp", "READY", deployed["rest_url"])]
    assert "hp        READY  halves  2" in hubml("models", "list").stdout
    assert json.loads(hubml("models", "describe", "hp", "--output", "json").stdout)["pid"] == deployed["pid"]

    answer = hubml("models", "predict", "hp", "--protocol", "rest", '{"instances": [1.0, 2.0, 5.0]}').stdout
    assert json.loads(answer) == [3.5, 4.0, 5.5]  # version 2 halves and adds three

    failed = hubml("models", "predict", "hp", "{not json", check=False)
    assert failed.returncode == 2 and "JSON: the payload is not JSON" in failed.stderr
    assert hubml("models", "describe", "nope", check=False).stderr.strip() == "hubml: error: no endpoint named 'nope'"

    assert hubml("models", "undeploy", "hp").stdout.strip() == "hp undeployed"
    assert json.loads(hubml("models", "list", "--output", "json").stdout) == []
    assert serving_processes(hubml_home) == []


def test_models_deploy_refuses_a_folder_without_the_layout(tmp_path, hubml_home):
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "saved_model.pb").write_bytes(b"")
    result = hubml("models", "deploy", str(tmp_path / "flat"), check=False)
    assert result.returncode == 2
    assert f"{tmp_path}/flat/1/saved_model.pb" in result.stderr
    assert json.loads(hubml("models", "list", "--output", "json").stdout) == []
