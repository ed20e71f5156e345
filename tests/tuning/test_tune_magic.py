"""`%%tune` in a real IPython shell and under papermill: a real Keras sweep, bad input, batch runs."""
import re
import subprocess
import sys

import nbformat
import numpy as np
import pytest
from IPython.core.error import UsageError

from hubml.handles.sweep import Sweep

# Synthetic data whose accuracy after four epochs depends strongly on Adam's learning rate:
# at 1e-3 and below the model barely learns (val_accuracy 0.7 or less); from 3e-3 to 1 it reaches 0.83 and more.
KERAS_CELL = """
import os
import numpy as np
import keras
import hubml.keras
rng = np.random.default_rng(0)
x = rng.normal(size=(800, 10)).astype("float32")
y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype("float32")
keras.utils.set_random_seed(1)
model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(units, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(keras.optimizers.Adam(lr), "binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, validation_split=0.25, epochs=4, batch_size=32, verbose=0, callbacks=[hubml.keras.ReportCallback(backup=False)])
model.export(os.environ["HUBML_MODEL_DIR"])  # a SavedModel for TF Serving, so the best trial can be deployed
"""


def test_a_keras_sweep_finds_the_good_learning_rates_and_deploys_the_best(shell, client, capsys, max_concurrent):
    sweep = shell.run_cell(
        '%%tune --name keras --objective val_accuracy --maximize --trials 4 --parallel 2 --algorithm tpe '
        '--seed 3 --param "lr=loguniform(1e-5, 1)" --param "units=choice(16, 32)"\n' + KERAS_CELL)
    assert isinstance(sweep, Sweep) and shell.user_ns["_"] is sweep
    assert sweep.state == "SUCCEEDED" and len(sweep.record.trials) == 4
    best = sweep.best
    assert best.params["lr"] >= 2e-3 and best.objective >= 0.82, repr(sweep)
    assert [step for step, _ in best.curve] == [1, 2, 3, 4]  # every epoch came from the Keras callback
    assert max_concurrent(client, sweep) == 2

    out = capsys.readouterr().out
    assert f"Started sweep {sweep.id}: 4 trials, 2 at a time, tpe search" in out
    assert "[trial 0] started as job keras-t0-" in out and re.search(r"\[trial \d\] epoch \d: val_accuracy 0\.", out)
    assert f"{best.params['lr']:.4g}" in repr(sweep)  # the trials table shows each trial's parameters
    assert f"[sweep] Sweep {sweep.id} SUCCEEDED: 4/4 trials done" in out

    frame = sweep.trials
    assert frame.loc[best.number, "lr"] == best.params["lr"]
    assert frame["val_accuracy"].max() == best.objective
    figure = sweep.plot()
    assert [axes.get_xlabel() for axes in figure.axes] == ["epoch", "trial"]
    assert len(figure.axes[0].lines) == 4  # one learning curve per trial
    shell.run_line_magic("sweeps", "")
    assert sweep.id in capsys.readouterr().out

    endpoint = sweep.deploy(name="best")
    try:
        assert endpoint.model == f"keras-t{best.number}"
        assert len(endpoint.predict(np.zeros((2, 10), "float32"), protocol="rest")) == 2
    finally:
        endpoint.undeploy()


@pytest.mark.parametrize("line, named", [
    ("--objective val_loss --param 'lr=loguniform(0,1)'", "--param: lr: loguniform(low, high) needs 0 < low < high"),
    ("--objective val_loss --param 'lr=normal(0,1)'", "--param: lr: unknown distribution 'normal'"),
    ('--objective val_loss --param "units=choice()"', "--param: units: choice() is empty"),
    ("--param 'lr=uniform(0, 1)'", "--objective"),
    ("--objective val_loss", "give at least one parameter"),
    ("--objective val_loss --param 'lr=uniform(0, 1)' --algorithm grid", "lr: grid search needs"),
    ("--objective val_loss --param 'lr=uniform(0, 1)' --parallel 0", "--parallel"),
    ("--objective val_loss --param 'lr=uniform(0, 1)' --workers -1", "--workers"),
])
def test_bad_search_spaces_and_options_are_usage_errors_and_start_nothing(shell, client, line, named):
    with pytest.raises(UsageError) as error:
        shell.run_cell(f"%%tune {line}\nprint(lr)")
    assert named in str(error.value)
    assert client.sweeps() == [] and client.jobs() == []


def test_trials_the_backend_would_refuse_are_a_usage_error_before_anything_starts(shell, client):
    with pytest.raises(UsageError, match="--cpu: the job asks for 100000 cpu"):
        shell.run_cell("%%tune --objective val_loss --param 'lr=uniform(0, 1)' --cpu 100000\nprint(lr)")
    assert client.sweeps() == [] and client.jobs() == []


def test_detach_returns_at_once_and_resource_options_apply_to_each_trial(shell, client):
    sweep = shell.run_cell('%%tune --detach --objective val_loss --param "n=choice(1, 2)" --cpu 0.5 --retries 1 '
                           '--hparam scale=10\nimport hubml\nhubml.report(step=1, val_loss=n * scale)')
    assert sweep.state == "RUNNING" and sweep.name == "notebook-1"
    sweep.wait(timeout=60)
    assert sweep.best.params == {"n": 1} and sweep.best.objective == 10
    for trial in sweep.record.trials:
        spec = client.job(trial.job_id).spec
        assert (spec.resources.cpu, spec.retries, spec.hparams["scale"]) == (0.5, 1, 10)


def test_under_papermill_a_detached_sweep_still_blocks_and_its_failure_fails_the_run(hubml_home, tmp_path,
                                                                                       client):
    book = nbformat.v4.new_notebook()
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    book.cells = [nbformat.v4.new_code_cell("%load_ext hubml"),
                  nbformat.v4.new_code_cell('%%tune --detach --name batch --objective val_loss --max-failed 1 '
                                            '--param "n=choice(1, 2)"\nraise ValueError(f"bad n={n}")')]
    nbformat.write(book, tmp_path / "sweep.ipynb")
    result = subprocess.run([sys.executable, "-m", "papermill", str(tmp_path / "sweep.ipynb"),
                             str(tmp_path / "out.ipynb"), "-k", "python3"], capture_output=True, text=True,
                            timeout=180)
    assert result.returncode != 0
    assert "SweepFailed" in result.stderr and "1 trials failed (--max-failed 1)" in result.stderr
    (sweep,) = client.sweeps()
    assert sweep.state == "FAILED" and sweep.record.trials[0].state == "FAILED"
