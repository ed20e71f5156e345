"""Before anything starts, a model folder must be in TF Serving's layout; the error names what is missing."""
import os

import pytest
from IPython.core.error import UsageError

from hubml.exceptions import InvalidArgument, ModelLayoutError
from hubml.specs import DeploySpec

from deploy_helpers import HALF_PLUS_TWO, serving_processes


def make(tmp_path, files):
    base = tmp_path / "model"
    base.mkdir()
    for relative in files:
        (base / relative).parent.mkdir(parents=True, exist_ok=True)
        (base / relative).write_bytes(b"")
    return base


@pytest.mark.parametrize("files, version, missing", [
    ([], None, "model/1/saved_model.pb is missing"),
    (["saved_model.pb", "variables/variables.index"], None, "move it into a numeric version folder"),
    (["1/variables/variables.index"], None, "model/1/saved_model.pb is missing"),
    (["export/saved_model.pb"], None, "model/1/saved_model.pb is missing"),
    (["1/saved_model.pb", "3/variables/x"], 3, "model/3/saved_model.pb is missing"),
    (["1/saved_model.pb"], 2, "model/2 is missing (versions there: 1)"),
])
def test_a_folder_without_the_layout_fails_naming_what_is_missing_and_deploys_nothing(
        client, tmp_path, hubml_home, files, version, missing):
    base = make(tmp_path, files)
    with pytest.raises(ModelLayoutError) as error:
        client.deploy(str(base), name="bad", version=version)
    assert missing in str(error.value) and "<base>/<version>/saved_model.pb" in str(error.value)
    assert client.endpoints() == [] and not (hubml_home / "endpoints").exists()
    assert serving_processes(hubml_home) == []


def test_the_highest_version_with_a_saved_model_is_the_one_checked(client, tmp_path):
    base = make(tmp_path, ["1/saved_model.pb", "2/variables/x"])  # 2: a job still exporting into it
    from hubml.backends.base import check_layout

    assert check_layout(f"file://{base}", None).endswith("/model/1")


def test_a_version_folder_given_as_the_model_says_to_deploy_its_parent(client):
    with pytest.raises(ModelLayoutError, match="this is a version folder: deploy the model folder above it"):
        client.deploy(str(HALF_PLUS_TWO / "00000123"))


def test_a_missing_folder_and_an_unknown_name_are_told_apart(client, tmp_path):
    with pytest.raises(ModelLayoutError, match="the model folder does not exist"):
        client.deploy(str(tmp_path / "nowhere"), name="x")
    with pytest.raises(InvalidArgument, match="'no-such-model' is not a model in .*, a model folder or a job id"):
        client.deploy("no-such-model")


def test_a_job_that_exported_nothing_or_is_still_running_cannot_be_deployed(client):
    running = client.train("import time; time.sleep(60)", name="running")
    with pytest.raises(InvalidArgument, match=f"job {running.id} is still (PENDING|RUNNING): deploy it once"):
        running.deploy()
    running.cancel()
    job = client.train("print('no model here')", name="plain").wait(timeout=60)
    with pytest.raises(InvalidArgument, match=f"job {job.id} exported no model"):
        job.deploy()


@pytest.mark.parametrize("spec, argument", [
    (DeploySpec(name="Bad_Name", model="m"), "--name"),
    (DeploySpec(name="ok", model="m", replicas=0), "--replicas"),
    (DeploySpec(name="ok", model="m", version=-1), "--version"),
    (DeploySpec(name="ok", model=""), "model"),
])
def test_spec_fields_are_checked_first(client, spec, argument):
    with pytest.raises(InvalidArgument) as error:
        client.backend.deploy(spec)
    assert error.value.argument == argument


def test_local_replicas_are_rest_workers_of_one_server(client, hubml_home):
    endpoint = client.deploy(str(HALF_PLUS_TWO), replicas=2)
    try:
        assert endpoint.predict([1.0, 2.0], protocol="rest").tolist() == [2.5, 3.0]
        assert any("--rest_api_workers 2" in command for command in serving_processes(hubml_home))
        log = (hubml_home / "endpoints" / endpoint.name / "serve.log").read_text()
        assert "worker 1 hubml.serving.models: serving " in log  # the second process, same log
    finally:
        endpoint.undeploy()


@pytest.mark.parametrize("source, named", [
    ("%deploy", "MODEL"),
    ("%deploy {missing}", "model/1/saved_model.pb is missing"),
    ("%deploy model --replicas two", "--replicas"),
    ("%deploy model --bogus", "--bogus"),
    ("%%deploy\nmodle: x", "modle"),
    ("%%deploy\n- not a mapping", "YAML mapping"),
    ("%%deploy\nmodel: [unclosed", "not YAML"),
    ("%predict", "usage: %predict ENDPOINT"),
    ("%predict ep --verison 1 [1]", "--verison"),
    ("%predict ep --version one [1]", "--version"),
    ("%undeploy", "endpoint"),
])
def test_wrong_magic_arguments_are_usage_errors_naming_them(shell, client, tmp_path, source, named):
    missing = make(tmp_path, [])
    with pytest.raises(UsageError) as error:
        shell.run_cell(source.format(missing=missing))
    assert named in str(error.value)
    assert client.endpoints() == []
    assert not os.path.exists(os.path.join(client.settings.home, "endpoints"))


def test_a_model_name_resolves_to_its_folder_in_storage_and_serves_its_newest_versions(client):
    stored = f"{client.settings.storage}/models/mnist"
    os.makedirs(f"{stored.removeprefix('file://')}/1")
    assert client.backend.resolve_model("mnist", None) == (stored, None)
    assert client.backend.resolve_model("mnist", 1) == (stored, 1)
    assert client.backend.resolve_model("./export", None) == (f"file://{os.getcwd()}/export", None)
