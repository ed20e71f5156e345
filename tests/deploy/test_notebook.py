"""A notebook trains with `%%train`, deploys the job with `%deploy` and predicts, run by the papermill CLI."""
import json
import os
import subprocess
import sys

import nbformat
import pytest
from deploy_helpers import QUIET_TF, serving_processes

TRAIN = '''%%train --name nbtrain
import os
import keras
import numpy as np

x = np.random.default_rng(0).random((256, 4), dtype=np.float32)
y = x.sum(axis=1, keepdims=True)
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
model.compile("adam", "mse")
model.fit(x, y, epochs=2, batch_size=64, verbose=0)
model.export(os.environ["HUBML_MODEL_DIR"])'''

CHECK = '''import numpy as np
import tensorflow as tf

rows = np.array([[0.1, 0.2, 0.3, 0.4], [1.0, 0.0, 0.5, 0.5]], dtype="float32")
served = endpoint.predict(rows)
assert np.allclose(served, endpoint.predict(rows, protocol="rest"))
exported = tf.saved_model.load(job.model["uri"].removeprefix("file://"))  # kept: its function needs its variables
trained = exported.serve(rows).numpy()
assert np.allclose(served, trained, atol=1e-5), (served, trained)
assert endpoint.versions == [job.model["version"]]
print("PREDICTED", served.shape)'''


@pytest.fixture
def kernel(tmp_path, monkeypatch) -> str:
    """A kernelspec running this virtual environment's Python, found through JUPYTER_PATH."""
    prefix = tmp_path / "kernel-prefix"
    subprocess.run([sys.executable, "-m", "ipykernel", "install", "--prefix", str(prefix), "--name", "hubml-test"],
                   check=True, capture_output=True)
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    return "hubml-test"


def run_papermill(tmp_path, kernel: str, sources: list[str]) -> tuple[subprocess.CompletedProcess, dict]:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
    nbformat.write(notebook, tmp_path / "in.ipynb")
    result = subprocess.run([sys.executable, "-m", "papermill", "in.ipynb", "out.ipynb", "-k", kernel,
                             "--cwd", str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, timeout=400,
                            env={**os.environ, **QUIET_TF})
    return result, nbformat.read(tmp_path / "out.ipynb", as_version=4)


def stdout_of(cell) -> str:
    return "".join(output.get("text", "") for output in cell.get("outputs", []) if output.output_type == "stream")


def test_train_deploy_and_predict_from_one_notebook_under_papermill(tmp_path, kernel, client, hubml_home):
    result, executed = run_papermill(tmp_path, kernel, [
        "%load_ext hubml", TRAIN, "job = _", "endpoint = %deploy job",  # named after the job's model
        "%predict nbtrain [[0.1, 0.2, 0.3, 0.4]]", CHECK, "endpoint.undeploy()"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "/models/nbtrain version 1 as endpoint nbtrain on local; waiting until it serves" in stdout_of(
        executed.cells[3])
    answer = json.loads(stdout_of(executed.cells[4]))
    assert len(answer) == 1 and len(answer[0]) == 1 and isinstance(answer[0][0], float)
    assert "PREDICTED (2, 1)" in stdout_of(executed.cells[5])
    assert client.endpoints() == [] and serving_processes(hubml_home) == []


def test_a_failed_deploy_stops_the_papermill_run_with_the_layout_error(tmp_path, kernel, client):
    (tmp_path / "export" / "variables").mkdir(parents=True)
    (tmp_path / "export" / "saved_model.pb").write_bytes(b"")
    result, executed = run_papermill(tmp_path, kernel, ["%load_ext hubml", "%deploy ./export", "print('not reached')"])
    assert result.returncode != 0
    assert f"{tmp_path}/export/1/saved_model.pb" in result.stderr
    code_cells = [cell for cell in executed.cells if cell.cell_type == "code"]
    assert "not reached" not in stdout_of(code_cells[2]) and client.endpoints() == []
