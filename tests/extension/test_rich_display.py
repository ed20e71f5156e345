"""A handle displays as a live widget in a notebook kernel, and as plain text in a terminal,
under papermill, and wherever HUBML_PLAIN=1 asks for it."""
from __future__ import annotations

import json
import subprocess
import sys

import nbformat
import pytest
from jupyter_client.manager import start_new_kernel

from hubml.extension.display import mimebundle

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_plain_text_outside_a_kernel(submit):
    job = submit("chatty").wait()
    assert mimebundle(job) == {"text/plain": repr(job)}
    assert job._repr_mimebundle_() == {"text/plain": repr(job)}


@pytest.fixture
def kernel(hubml_home):
    manager, kernel_client = start_new_kernel(kernel_name="python3", startup_timeout=60)
    yield kernel_client
    kernel_client.stop_channels()
    manager.shutdown_kernel(now=True)


def shown(kernel_client, code: str) -> dict:
    """The mime bundle the kernel sends for the cell's result."""
    outputs = []

    def collect(message):
        if message["msg_type"] in ("execute_result", "display_data"):
            outputs.append(message["content"]["data"])
        if message["msg_type"] == "error":
            outputs.append({"error": "\n".join(message["content"]["traceback"])})

    kernel_client.execute_interactive(code, output_hook=collect, timeout=60)
    assert len(outputs) == 1, outputs
    return outputs[0]


def test_widget_in_a_live_kernel_and_plain_text_with_hubml_plain(kernel, submit):
    job = submit("chatty").wait()
    rich = shown(kernel, f"import hubml\njob = hubml.Client().job({job.id!r})\njob")
    assert WIDGET_VIEW in rich and rich["text/plain"] == repr(job)
    plain = shown(kernel, "%env HUBML_PLAIN=1\njob")
    assert plain == {"text/plain": repr(job)}


def test_plain_text_under_papermill(tmp_path, submit):
    job = submit("chatty").wait()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        f"import hubml\nhubml.Client().job({job.id!r})")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source, output = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(notebook, source)
    subprocess.run([sys.executable, "-m", "papermill", str(source), str(output), "-k", "python3"],
                   check=True, capture_output=True, timeout=120)
    results = [output["data"] for output in nbformat.read(output, as_version=4).cells[0].outputs]
    assert results == [{"text/plain": repr(job)}], json.dumps(results)
