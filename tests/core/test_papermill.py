"""Notebooks with %%train under the papermill CLI: block until the job ends, fail when it fails."""
import subprocess
import sys

import nbformat


def notebook(path, body: str) -> str:
    book = nbformat.v4.new_notebook()
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    book.cells = [nbformat.v4.new_code_cell("%load_ext hubml"), nbformat.v4.new_code_cell(body),
                  nbformat.v4.new_code_cell("print('after the job:', _.state)")]
    nbformat.write(book, path)
    return str(path)


def papermill(source: str, output: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "papermill", source, output, "-k", "python3"],
                          capture_output=True, text=True, timeout=300)


def test_train_blocks_until_the_job_ends(hubml_home, tmp_path, client):
    source = notebook(tmp_path / "ok.ipynb",
                      "%%train --name batch\nimport time\ntime.sleep(2)\nprint('trained under papermill')")
    result = papermill(source, str(tmp_path / "ok-out.ipynb"))
    assert result.returncode == 0, result.stderr
    (job,) = client.jobs()
    assert job.state == "SUCCEEDED"
    output = nbformat.read(tmp_path / "ok-out.ipynb", as_version=4)
    text = "".join(o.get("text", "") for cell in output.cells for o in cell.get("outputs", []))
    assert "[worker-0] trained under papermill" in text and "after the job: SUCCEEDED" in text


def test_a_failed_job_fails_the_run_with_its_last_log_lines(hubml_home, tmp_path, client):
    source = notebook(tmp_path / "bad.ipynb",
                      "%%train --name batch-fails\nprint('epoch 1 ok')\nraise ValueError('loss is NaN')")
    result = papermill(source, str(tmp_path / "bad-out.ipynb"))
    assert result.returncode != 0
    assert "JobFailed" in result.stderr and "ValueError: loss is NaN" in result.stderr
    assert "[worker-0] epoch 1 ok" in result.stderr
    (job,) = client.jobs()
    assert job.state == "FAILED"
    output = nbformat.read(tmp_path / "bad-out.ipynb", as_version=4)
    assert output.cells[-1].get("outputs", []) == []  # papermill stopped at the failing cell
