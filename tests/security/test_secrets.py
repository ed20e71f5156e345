"""Storage keys and tokens never appear in anything hubml writes or shows.

Marker credentials are set: the SeaweedFS fixture's real storage keys (which
the S3 server checks), marker tokens in the environment, and a user's own token
given to a job through its spec's `env`. A job, an endpoint and a sweep run on
S3 storage; then every file under HUBML_HOME and the test's folder, every object
in storage, the handles' reprs and JSON, the widgets' state, the server
extension's answers, the CLI's descriptions and the Kubernetes manifests for the
same specs are searched for each marker.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import os
from pathlib import Path

import pytest
from traitlets.config import Config

from security_helpers import FIXTURES
from hubml import storage
from hubml.exceptions import InvalidArgument
from hubml.specs import DeploySpec, TrainSpec
from hubml.tuning.spec import TuneSpec

TOKEN_MARKERS = {"JUPYTERHUB_API_TOKEN": "marker-hub-token-7f3a9c", "HF_TOKEN": "marker-hf-token-52be01",
                 "GITHUB_TOKEN": "marker-gh-token-d41c6e"}
USER_KEY = "marker-wandb-key-9e81f4"  # a user's own token, given to a job through its spec's env
DATABASE_FILES = ("hubml.db", "hubml.db-wal")  # the one place the local backend keeps USER_KEY (see files_under)
HALF_PLUS_TWO = FIXTURES / "tf_serving_testdata" / "saved_model_half_plus_two_cpu" / "00000123"
SHOW_KEY = "import hashlib, os\nprint('key', hashlib.sha256(os.environ['WANDB_API_KEY'].encode()).hexdigest())\n"
TRIAL = SHOW_KEY + "import hubml\nhubml.report(step=1, score=lr * 2)\n"


@pytest.fixture
def markers(s3_storage, monkeypatch) -> list[str]:
    for name, value in TOKEN_MARKERS.items():
        monkeypatch.setenv(name, value)
    return [os.environ["AWS_SECRET_ACCESS_KEY"], os.environ["AWS_ACCESS_KEY_ID"], *TOKEN_MARKERS.values(), USER_KEY]


def leaks(markers: list[str], text: str | bytes, where: str) -> list[str]:
    data = text if isinstance(text, bytes) else text.encode()
    return [f"{marker!r} in {where}" for marker in markers if marker.encode() in data]


def files_under(markers: list[str], root: Path, hubml_home: Path) -> list[str]:
    """Every file but the local backend's database, which keeps a job's env for its detached supervisor
    under HUBML_HOME, private (0700) to the user."""
    return [hit for path in root.rglob("*")
            if path.is_file() and not (path.parent == hubml_home and path.name in DATABASE_FILES)
            for hit in leaks(markers, path.read_bytes(), str(path))]


def objects_in(markers: list[str], url: str) -> list[str]:
    fs, root = storage.filesystem(url)
    return [hit for path in fs.find(root) for hit in leaks(markers, fs.cat_file(path), f"s3://{path}")]


def widget_state(handle) -> str:
    from hubml.extension.widgets import widget_for

    widget = widget_for(handle, interval=3600)
    try:
        widget.refresh()
        return json.dumps([each.get_state() for each in type(widget).widgets.values()], default=str)
    finally:
        widget.close()


def server_answers(client, job_id: str, sweep_id: str) -> str:
    from hubml.extension.server.manager import HubMLManager

    manager = HubMLManager(lambda: client)
    answers = [manager.jobs(), manager.job(job_id), manager.logs(job_id), manager.endpoints(), manager.sweeps(),
               manager.sweep(sweep_id)]
    return json.dumps(answers, default=str)


def cli_descriptions(job_id: str) -> str:
    from hubml.cli import main

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for args in (["jobs", "describe", job_id], ["jobs", "describe", job_id, "--output", "json"],
                     ["jobs", "list", "--output", "json"], ["models", "list"], ["endpoints", "list"]):
            assert main(args) == 0
    return printed.getvalue()


def kubernetes_manifests(job_spec: TrainSpec, storage_url: str) -> str:
    """The same job and endpoint on Kubernetes; a secret in the job's env is refused there."""
    from hubml.backends.kubernetes import manifests, tenancy
    from hubml.backends.kubernetes.manifests import Target
    from hubml.backends.kubernetes.options import ClusterOptions

    target = Target("hubml-alice", "alice", storage_url, ClusterOptions.resolve(Config()))
    with pytest.raises(InvalidArgument, match="WANDB_API_KEY looks like a secret"):
        manifests.job_manifests("secret-0a1b2c", job_spec, target)
    plain = dataclasses.replace(job_spec, env={"PLAIN_SETTING": "visible"})
    objects = [manifests.job_record("secret-0a1b2c", job_spec, target, 0.0),
               *manifests.job_manifests("secret-0a1b2c", plain, target),
               *manifests.endpoint_manifests(DeploySpec(name="halves", model=f"{storage_url}/models/halves"), target),
               *tenancy.namespace_manifests("hubml-alice", "alice")]
    return json.dumps(objects)


@pytest.mark.timeout(300)
def test_no_credential_appears_in_anything_hubml_wrote_or_shows(markers, s3_storage, hubml_home, tmp_path):
    from hubml.client import Client

    client = Client()
    env = {"PLAIN_SETTING": "visible", "WANDB_API_KEY": USER_KEY}
    job = client.train(SHOW_KEY + "print('storage is', os.environ['HUBML_STORAGE'], flush=True)\n", name="plain",
                       env=env)
    storage.upload(str(HALF_PLUS_TWO), storage.join(s3_storage, "models", "halves", "1"))
    sweep = client.tune(TuneSpec(template=TrainSpec(name="sweep", code=TRIAL, env=env), params=["lr=choice(0.1, 0.2)"],
                                 objective="score", direction="maximize", algorithm="grid", trials=2, parallel=2))
    endpoint = client.deploy("halves", timeout=240)
    assert endpoint.predict([2.0]).tolist() == [3.0]
    job.wait(timeout=120)
    sweep.wait(timeout=180)

    shown = {
        "reprs": "\n".join(map(repr, [client, job, endpoint, sweep, *client.jobs(), *client.endpoints()])),
        "handle JSON": json.dumps([job.to_json(), endpoint.to_json(), sweep.to_json()], default=str),
        "job logs": "\n".join(map(str, job.logs())) + "\n".join(each.log_tail() for each in client.jobs()),
        "widget state": widget_state(job) + widget_state(endpoint) + widget_state(sweep),
        "server extension API": server_answers(client, job.id, sweep.id),
        "CLI descriptions": cli_descriptions(job.id),
        "Kubernetes manifests": kubernetes_manifests(job.spec, s3_storage),
    }
    found = [hit for where, text in shown.items() for hit in leaks(markers, text, where)]
    endpoint.undeploy()  # its logs are under HUBML_HOME until then
    found += files_under(markers, tmp_path, hubml_home) + objects_in(markers, s3_storage)
    assert "storage is s3://" in shown["job logs"] and "visible" in shown["handle JSON"]
    assert f"key {hashlib.sha256(USER_KEY.encode()).hexdigest()}" in shown["job logs"], "the job got the real value"
    assert found == []
