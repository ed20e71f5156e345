"""What hubml.report and ReportCallback record is in the job's TensorBoard, with no TensorBoard callback."""
from __future__ import annotations

import glob
import os

from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.util.tensor_util import make_ndarray

from tensorboard_helpers import get_json, wait_for_json

KERAS_JOB = """
import numpy as np, keras, hubml.keras
x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
y = (x.sum(axis=1) > 0).astype("float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=3, validation_split=0.25, verbose=0, callbacks=[hubml.keras.ReportCallback()])
"""

TWO_WORKERS_REPORT = """
import hubml, json, os
task = json.loads(os.environ["TF_CONFIG"])["task"]
for step in (1, 2):
    hubml.report(step=step, loss=1.0 / step, worker=task["index"])
"""


def scalars_in(folder: str) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in the events files directly under `folder`, read as TensorBoard reads them (its loader
    turns each `simple_value` into a scalar tensor of the scalars plugin)."""
    found: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(glob.glob(os.path.join(folder, "events.out.tfevents.*"))):
        for event in EventFileLoader(path).Load():
            for value in event.summary.value:
                assert value.metadata.plugin_data.plugin_name == "scalars"
                found.setdefault(value.tag, []).append((event.step, make_ndarray(value.tensor).item()))
    return found


def tensorboard_folder(client, job) -> str:
    from hubml import storage

    return storage.local_path(f"{client.backend.job_url(job.id)}/tensorboard")


def test_a_keras_job_with_only_report_callback_has_its_curves_in_tensorboard(client, stop_boards):
    job = client.train(KERAS_JOB, name="keras-scalars").wait(timeout=300)
    metrics = job.metrics()
    found = scalars_in(tensorboard_folder(client, job))
    assert set(found) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert "epoch" not in found and "epochs" not in found
    assert [step for step, _ in found["loss"]] == [1, 2, 3]
    assert [round(value, 5) for _, value in found["val_loss"]] == [round(row["val_loss"], 5) for row in metrics]
    board = job.tensorboard()  # a real TensorBoard lists them as the job's run
    tags = wait_for_json(board.local_url + "data/plugin/scalars/tags", lambda tags: job.id in tags)
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(tags[job.id])
    points = get_json(f"{board.local_url}data/plugin/scalars/scalars?tag=loss&run={job.id}")
    assert [point[1] for point in points] == [1, 2, 3]


def test_a_two_worker_job_writes_its_scalars_once_from_worker_0(client):
    job = client.train(TWO_WORKERS_REPORT, name="two-scalars", workers=2).wait(timeout=120)
    folder = tensorboard_folder(client, job)
    assert len(glob.glob(os.path.join(folder, "events.out.tfevents.*"))) == 1
    assert scalars_in(folder) == {"loss": [(1, 1.0), (2, 0.5)], "worker": [(1, 0.0), (2, 0.0)]}


def test_a_report_without_a_step_is_placed_at_its_count(tmp_path, monkeypatch):
    import hubml.scalars
    from hubml.reporting import report

    monkeypatch.setenv("HUBML_METRICS_FILE", str(tmp_path / "metrics.jsonl"))
    monkeypatch.setenv("HUBML_TENSORBOARD_DIR", str(tmp_path / "tensorboard"))
    monkeypatch.setattr(hubml.scalars, "_writers", {})
    report(loss=0.5, flag=True, name="text")
    report(loss=float("nan"))  # not a number TensorBoard could draw: skipped, as in the metrics file
    report(loss=0.25)
    assert scalars_in(str(tmp_path / "tensorboard")) == {"loss": [(1, 0.5), (3, 0.25)]}
