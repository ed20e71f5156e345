"""The extension's entry points: `%load_ext hubml` / `%unload_ext hubml`, and what Jupyter discovers."""
from __future__ import annotations

import os

import hubml.extension
from hubml.extension.widgets.job import JobWidget


def test_load_registers_the_magics_and_unload_stops_live_widgets(shell, submit, wait_for_line, eventually):
    assert "train" in shell.magics_manager.magics["cell"]
    job = submit("sleeper")
    wait_for_line(job, "ready")
    widget = JobWidget(job, interval=0.1)
    assert widget.poller.running
    shell.run_line_magic("unload_ext", "hubml")
    assert "train" not in shell.magics_manager.magics["cell"]
    eventually(lambda: not widget.poller.running, timeout=5)
    shell.run_line_magic("load_ext", "hubml")  # as the fixture expects to find it


def test_jupyter_finds_the_server_extension_and_the_sidebar():
    assert hubml.extension._jupyter_server_extension_points() == [{"module": "hubml.extension.server"}]
    from hubml.extension.server import _load_jupyter_server_extension  # noqa: F401  (what the server calls)

    [labextension] = hubml.extension._jupyter_labextension_paths()
    assert labextension["dest"] == "hubml"
    assert os.path.isfile(os.path.join(labextension["src"], "package.json")), "run `make labextension`"
