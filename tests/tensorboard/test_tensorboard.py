"""TensorBoard for a job and for a sweep: a real TensorBoard process, asked over HTTP what it shows."""
from __future__ import annotations

import time
import urllib.request

import pytest
from tensorboard_helpers import get_json, wait_for_json

from hubml.specs import TrainSpec

# Scalars written with TensorBoard's own event writer (no TensorFlow import in the job), where the contract says.
WRITE_EVENTS = """
import os, time
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter
import hubml
writer = EventFileWriter(os.path.join(os.environ["HUBML_TENSORBOARD_DIR"], "train"))
for step in range(1, 4):
    loss = lr * 10 / step
    value = summary_pb2.Summary.Value(tag="epoch_loss", simple_value=loss)
    writer.add_event(event_pb2.Event(step=step, wall_time=time.time(), summary=summary_pb2.Summary(value=[value])))
    hubml.report(step=step, val_loss=loss)
writer.close()
"""


@pytest.fixture
def notebook_server(tmp_path):
    """A real Jupyter server (jupyter-server-proxy enabled by its install) on a free port; yields its base URL."""
    import os
    import subprocess
    import sys

    from hubml.processes import free_ports

    (port,), token = free_ports(1), "hubml-test-token"
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False", f"--ServerApp.root_dir={tmp_path}",
         "--ServerApp.allow_root=True"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path)})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline and process.poll() is None:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                time.sleep(0.3)
        yield base, token
    finally:
        process.terminate()
        process.wait(10)


def test_a_jobs_tensorboard_answers_http_and_lists_the_jobs_run(client, stop_boards, monkeypatch, notebook_server):
    job = client.train(f"lr = 0.1\n{WRITE_EVENTS}", name="events").wait(timeout=120)
    board = job.tensorboard()
    assert board.url == board.local_url and board.runs == {job.id: f"{client.backend.job_url(job.id)}/tensorboard"}
    runs = wait_for_json(board.local_url + "data/runs", lambda runs: len(runs) == 2)
    assert sorted(runs) == [job.id, f"{job.id}/train"]  # what hubml.report recorded is the job's own run
    tags = get_json(board.local_url + "data/plugin/scalars/tags")
    assert "epoch_loss" in tags[f"{job.id}/train"] and "val_loss" in tags[job.id]
    again = job.tensorboard()  # found, not started twice
    assert (again.pid, again.port) == (board.pid, board.port)
    base, token = notebook_server  # as on a hub: through the notebook server's /proxy/<port>/
    assert sorted(get_json(f"{base}/proxy/{board.port}/data/runs?token={token}")) == [job.id, f"{job.id}/train"]
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/alice/")
    assert board.url == f"/user/alice/proxy/{board.port}/"
    monkeypatch.setenv("TENSORBOARD_PROXY_URL", "/hub-proxy/%PORT%/tb/")
    assert board.url == f"/hub-proxy/{board.port}/tb/"
    board.stop()
    assert not board.alive


def test_a_sweeps_tensorboard_shows_every_trial_named_by_its_parameters(client, stop_boards, shell):
    from hubml.tuning.spec import TuneSpec

    sweep = client.tune(TuneSpec(template=TrainSpec(name="tb-sweep", code=WRITE_EVENTS),
                                 params=["lr=choice(0.1, 0.3)"], objective="val_loss", trials=2, parallel=2,
                                 algorithm="grid")).wait(timeout=120)
    board = shell.run_line_magic("tensorboard", f"--sweep {sweep.id}")
    runs = wait_for_json(board.local_url + "data/runs", lambda runs: len(runs) == 4)
    assert sorted(runs) == ["lr=0.1", "lr=0.1/train", "lr=0.3", "lr=0.3/train"]
    scalars = get_json(board.local_url + "data/plugin/scalars/scalars?tag=epoch_loss&run=lr%3D0.3%2Ftrain")
    assert [round(point[2], 3) for point in scalars] == [3.0, 1.5, 1.0]
    reported = get_json(board.local_url + "data/plugin/scalars/scalars?tag=val_loss&run=lr%3D0.3")
    assert [(point[1], round(point[2], 3)) for point in reported] == [(1, 3.0), (2, 1.5), (3, 1.0)]
    assert sweep.tensorboard().pid == board.pid  # the same one, found again
    shell.run_line_magic("tensorboard", f"--sweep {sweep.id} --stop")
    assert not board.alive


def test_on_object_storage_the_view_holds_a_fresh_copy_of_the_synced_events(s3_storage, tmp_path):
    from hubml import storage
    from hubml.tensorboard import build_view

    events = tmp_path / "synced" / "train"
    events.mkdir(parents=True)
    (events / "events.out.tfevents.1.host").write_bytes(b"first")
    url = storage.join(s3_storage, "jobs", "mnist-0a1b2c", "tensorboard")
    storage.upload(str(tmp_path / "synced"), url)
    view = tmp_path / "view"
    build_view(str(view), {"mnist-0a1b2c": url})
    assert (view / "mnist-0a1b2c" / "train" / "events.out.tfevents.1.host").read_bytes() == b"first"
    (events / "events.out.tfevents.2.host").write_bytes(b"second")
    storage.upload(str(tmp_path / "synced"), url)
    build_view(str(view), {"mnist-0a1b2c": url})  # asking again refreshes the copy
    assert (view / "mnist-0a1b2c" / "train" / "events.out.tfevents.2.host").read_bytes() == b"second"


def test_run_names_are_the_trials_parameters():
    from hubml.tensorboard import run_name, unique_names

    assert run_name({"lr": 0.01, "act": "relu/6"}) == "lr=0.01,act=relu_6"
    assert unique_names(["lr=1", "lr=2", "lr=1"], [0, 1, 2]) == ["lr=1 (trial 0)", "lr=2", "lr=1 (trial 2)"]
