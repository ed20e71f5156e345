"""What `hubml run` sends, and what it refuses before anything runs."""
from __future__ import annotations

import pytest

from notebook_helpers import write_notebook
from hubml.batch.submit import imported_local_modules, notebook_spec
from hubml.exceptions import InvalidArgument
from hubml.specs import TrainSpec


def test_the_spec_ships_the_notebook_its_local_imports_and_files(tmp_path):
    (tmp_path / "analysis").mkdir()
    (tmp_path / "analysis" / "helpers.py").write_text("")
    (tmp_path / "analysis" / "features" / "deep").mkdir(parents=True)
    (tmp_path / "analysis" / "features" / "__init__.py").write_text("")
    write_notebook(tmp_path / "analysis" / "report.ipynb", "%matplotlib inline\nimport helpers, numpy",
                   "from features.deep import x\nimport os", "%%train\nimport not_here")
    spec = notebook_spec("analysis/report.ipynb", {"alpha": 0.5}, output="out.ipynb",
                         base=TrainSpec(name="report", files=["data"], hparams={"seed": 1}, source_dir=str(tmp_path)))
    assert spec.files == ["analysis/report.ipynb", "analysis/features", "analysis/helpers.py", "data"]
    assert spec.hparams == {"seed": 1, "alpha": 0.5}
    assert f"output='file://{tmp_path}/out.ipynb'" in spec.code and "run('analysis/report.ipynb'" in spec.code
    compile(spec.code, "main.py", "exec")


def test_only_the_notebooks_own_folder_counts_as_local(tmp_path):
    (tmp_path / "json.py").write_text("")
    assert imported_local_modules(["import json", "import jsonschema"], str(tmp_path)) == ["json.py"]
    assert imported_local_modules(["import json"], str(tmp_path / "elsewhere")) == []


@pytest.mark.parametrize("notebook, base, argument", [
    ("missing.ipynb", None, "NOTEBOOK"),
    ("script.py", None, "NOTEBOOK"),
    ("broken.ipynb", None, "NOTEBOOK"),
    ("ok.ipynb", TrainSpec(name="ok", workers=2), "--workers"),
    ("ok.ipynb", TrainSpec(name="ok", package="pkg", module="pkg.task"), "--package"),
])
def test_bad_input_is_refused_naming_the_argument(tmp_path, monkeypatch, notebook, base, argument):
    monkeypatch.chdir(tmp_path)
    write_notebook(tmp_path / "ok.ipynb", "print(1)")
    (tmp_path / "script.py").write_text("print(1)")
    (tmp_path / "broken.ipynb").write_text("{not json")
    with pytest.raises(InvalidArgument) as error:
        notebook_spec(notebook, base=base)
    assert error.value.argument == argument


def test_a_schedule_on_the_local_backend_is_refused_with_a_clear_message(hubml_home, tmp_path, hubml_cli):
    notebook = write_notebook(tmp_path / "daily.ipynb", "print(1)")
    code, out, err = hubml_cli("run", notebook, "--schedule", "0 6 * * *")
    assert code == 2
    assert "--schedule: the local backend has no scheduler" in err and "Kubernetes CronJobs" in err
    assert not (hubml_home / "storage" / "jobs").exists()


def test_notebook_options_that_do_not_apply_are_not_offered(hubml_home, tmp_path, hubml_cli):
    notebook = write_notebook(tmp_path / "nb.ipynb", "print(1)")
    with pytest.raises(SystemExit):
        hubml_cli("run", notebook, "--workers", "2")
