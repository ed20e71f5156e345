"""`hubml run`: real papermill runs of notebooks as jobs on the local backend."""
from __future__ import annotations

import nbformat

import hubml.batch
from hubml import storage

from notebook_helpers import outputs_text, write_notebook


def test_a_parameterised_notebook_runs_as_a_job_with_its_local_module(hubml_home, tmp_path, client, hubml_cli):
    (tmp_path / "helpers.py").write_text("def scale(value):\n    return value * 10\n")
    notebook = write_notebook(tmp_path / "report.ipynb",
                              "import helpers\nprint('scaled', helpers.scale(alpha), 'for', title)",
                              "print('rows in data.csv:', len(open('data.csv').read().split()))",
                              # hubml's magics are loaded in the batch kernel, and raise rather than carry on
                              "try:\n    %deploy no-such-model\nexcept Exception as error:\n"
                              "    print('deploy raised', type(error).__name__)",
                              parameters="alpha = 1\ntitle = 'default'")
    (tmp_path / "data.csv").write_text("a\nb\nc\n")
    code, out, err = hubml_cli("run", notebook, "-p", "alpha", "4", "-p", "title", "weekly", "--files", "data.csv",
                               "--output", "out/report-weekly.ipynb", "--cpu", "1")
    assert code == 0, err
    (job,) = client.jobs()
    assert job.state == "SUCCEEDED" and job.spec.hparams == {"alpha": 4, "title": "weekly"}
    assert "\nscaled 40 for weekly\n" in out  # cell output streams into the job's log, one line each
    output = tmp_path / "out" / "report-weekly.ipynb"
    assert "scaled 40 for weekly" in outputs_text(output) and "rows in data.csv: 3" in outputs_text(output)
    assert "deploy raised InvalidArgument" in outputs_text(output)
    injected = [cell for cell in nbformat.read(str(output), as_version=4).cells
                if "injected-parameters" in cell.metadata.get("tags", [])]
    assert injected and "alpha = 4" in injected[0].source
    assert not (hubml_home / "storage" / "jobs" / job.id / "output.ipynb").exists()


def test_a_failing_cell_saves_the_output_with_the_error_banner_and_fails_the_job(hubml_home, tmp_path, client,
                                                                                  hubml_cli):
    """The failing cell is a %%train whose job fails: it blocks until that job ends, then raises."""
    notebook = write_notebook(tmp_path / "nightly.ipynb", "print('loaded', rows, 'rows')",
                              "%%train --name inner\nprint('inner epoch 1')\nraise ValueError('loss is NaN')",
                              "print('never printed')", parameters="rows = 10")
    code, out, err = hubml_cli("run", notebook, "-p", "rows", "25")
    assert code == 1
    assert "JobFailed" in err and "the output notebook, with papermill's error banner" in err
    jobs = {job.name: job for job in client.jobs()}
    assert jobs["nightly"].state == "FAILED" and jobs["inner"].state == "FAILED"
    assert jobs["inner"].record.finished_at <= jobs["nightly"].record.finished_at  # the kernel waited for it
    output = hubml_home / "storage" / "jobs" / jobs["nightly"].id / "output.ipynb"
    book = nbformat.read(str(output), as_version=4)
    banner = [cell for cell in book.cells if cell.cell_type == "markdown" and "An Exception was encountered" in
              cell.source]
    assert banner, "papermill's error banner is missing"
    errors = [o for cell in book.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert errors[0]["ename"] == "JobFailed" and "loss is NaN" in errors[0]["evalue"]
    assert "loaded 25 rows" in outputs_text(output) and "never printed" not in outputs_text(output)


def test_on_object_storage_the_output_notebook_is_uploaded(s3_storage, tmp_path, client):
    """Through the Python API, `hubml.batch.submit`."""
    notebook = write_notebook(tmp_path / "s3.ipynb", "print('greeting:', greeting)", parameters="greeting = 'hi'")
    job = hubml.batch.submit(client, notebook, {"greeting": "hello s3"}, cpu=1).wait(timeout=180)
    output = storage.join(s3_storage, "jobs", job.id, "output.ipynb")
    book = nbformat.reads(storage.read_text(output), as_version=4)
    assert "greeting: hello s3" in "".join(o.get("text", "") for c in book.cells for o in c.get("outputs", []))


def test_a_notebook_runs_log_has_one_prefix_per_line_and_no_noise(hubml_home, tmp_path, hubml_cli):
    notebook = write_notebook(tmp_path / "inner.ipynb", "%load_ext hubml",
                              "%%train --name inner\nfor n in range(3):\n    print('inner line', n)",
                              "print('first')\nprint('second')")
    code, out, err = hubml_cli("run", notebook)
    assert code == 0, err
    lines = out.splitlines()
    assert [line for line in lines if "inner line" in line] == [f"[worker-0] inner line {n}" for n in range(3)]
    assert lines[lines.index("first") + 1] == "second"  # no blank line between a cell's lines
    assert "" not in lines and "already loaded" not in out
