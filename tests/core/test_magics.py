"""`%%train` and the job magics in a real IPython shell."""
import textwrap

import pytest
from IPython.core.error import UsageError

from hubml.handles.job import Job


def test_train_waits_binds_hparams_and_returns_the_handle(shell, capsys):
    job = shell.run_cell("%%train --name magic --hparam lr=0.25 --hparam tag='x'\nprint('lr', lr, tag)")
    assert isinstance(job, Job) and job.state == "SUCCEEDED"
    assert shell.user_ns["_"] is job
    out = capsys.readouterr().out
    assert "Submitted magic-" in out and "[worker-0] lr 0.25 x" in out


def test_detach_returns_at_once(shell):
    job = shell.run_cell("%%train --detach\nimport time; time.sleep(1)")
    assert job.state in ("PENDING", "RUNNING")
    assert job.name == "notebook-1"  # default: the notebook's name and a counter
    job.wait(timeout=60)


@pytest.mark.parametrize("line, cell, named", [
    ("--bogus", "print(1)", "--bogus"),
    ("--workers -1", "print(1)", "--workers"),
    ("--workers two", "print(1)", "--workers"),
    ("--hparam lr", "print(1)", "--hparam"),
    ("", "   ", "empty"),
    ("--files missing.csv", "print(1)", "missing.csv"),
    ("--package .", None, "--module"),
    ("--module pkg.task", None, "--package"),
    ("--name x", None, "cell is empty"),
])
def test_bad_input_is_a_usage_error_and_submits_nothing(shell, client, line, cell, named):
    with pytest.raises(UsageError) as error:
        shell.run_cell(f"%train {line}" if cell is None else f"%%train {line}\n{cell}")
    assert named in str(error.value)
    assert client.jobs() == []


def test_failed_job_raises_with_its_log_tail(shell):
    with pytest.raises(Exception) as error:
        shell.run_cell("%%train --name broken\nraise RuntimeError('diverged')")
    assert "FAILED" in str(error.value) and "RuntimeError: diverged" in str(error.value)


def test_jobs_logs_and_cancel_magics(shell, capsys):
    done = shell.run_cell("%%train --name listed\nprint('hello from the job')")
    running = shell.run_cell("%%train --name sleeper --detach\nimport time; time.sleep(60)")
    capsys.readouterr()
    shell.run_line_magic("jobs", "")
    table = capsys.readouterr().out
    assert done.id in table and "SUCCEEDED" in table and running.id in table
    shell.run_line_magic("logs", done.id)
    assert "[worker-0] hello from the job" in capsys.readouterr().out
    shell.run_line_magic("cancel", running.id)
    assert f"{running.id} CANCELLED" in capsys.readouterr().out


def test_interrupting_a_waiting_cell_cancels_the_job(shell, monkeypatch, capsys):
    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Job, "follow", interrupted)
    job = shell.run_cell("%%train --name interrupted\nimport time; time.sleep(60)")
    assert job.state == "CANCELLED"
    assert f"Interrupted: cancelled job {job.id}" in capsys.readouterr().out


KERAS_CELL = textwrap.dedent("""
    %%train --name keras-magic --hparam epochs=2
    import os
    import numpy as np
    import keras
    import hubml.keras

    x = np.random.default_rng(0).normal(size=(256, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, verbose=0, callbacks=[hubml.keras.ReportCallback()])
    model.export(os.environ["HUBML_MODEL_DIR"])
""").lstrip()


def test_keras_model_trains_and_exports_a_callable_saved_model(shell):
    import numpy as np
    import tensorflow as tf

    job = shell.run_cell(KERAS_CELL)
    assert job.state == "SUCCEEDED"
    assert [m["epoch"] for m in job.metrics()] == [1, 2] and job.metrics()[-1]["epochs"] == 2
    model = job.model
    assert model["model"] == "keras-magic" and model["version"] == 1
    loaded = tf.saved_model.load(model["uri"].removeprefix("file://"))
    probabilities = loaded.signatures["serving_default"](tf.constant(np.ones((3, 4), "float32")))
    (output,) = probabilities.values()
    assert output.shape == (3, 2) and np.allclose(output.numpy().sum(axis=1), 1.0, atol=1e-5)
    again = shell.run_cell(KERAS_CELL)
    assert again.model["version"] == 2  # the next integer version
