"""A `%%train` cell in a live kernel: its widget shows at once and updates while the cell still waits; nothing is
repeated when it ends; a failure's traceback shows once. Driven over the real Jupyter messaging protocol."""
from __future__ import annotations

import json
import queue
import time

import pytest
from jupyter_client.manager import start_new_kernel

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

GATED_CELL = """%%train --name gated
import os, time
import hubml
print("waiting for the gate", flush=True)
hubml.report(step=1, epoch=1, epochs=2, loss=0.5)
while not os.path.exists(GATE):
    time.sleep(0.05)
print("through the gate", flush=True)
hubml.report(step=2, epoch=2, epochs=2, loss=0.25)
"""


@pytest.fixture
def kernel(hubml_home):
    manager, kernel_client = start_new_kernel(kernel_name="python3", startup_timeout=60)
    kernel_client.execute_interactive("%load_ext hubml", timeout=60)
    yield kernel_client
    kernel_client.stop_channels()
    manager.shutdown_kernel(now=True)


def messages_until(kernel_client, msg_id: str, condition, timeout: float, what: str) -> list[dict]:
    """iopub messages of one request, read until `condition(message)`; an error naming `what` at the deadline."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            message = kernel_client.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        if message["parent_header"].get("msg_id") != msg_id and message["msg_type"] not in ("comm_msg", "comm_open"):
            continue
        seen.append(message)
        if condition(message):
            return seen
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; saw {[m['msg_type'] for m in seen]}")


def is_idle(message: dict) -> bool:
    return message["msg_type"] == "status" and message["content"]["execution_state"] == "idle"


def mentions(message: dict, text: str) -> bool:
    return message["msg_type"] in ("comm_msg", "comm_open") and text in json.dumps(message["content"]["data"])


def test_the_widget_updates_while_the_cell_waits_and_nothing_repeats_at_the_end(kernel, tmp_path):
    gate = tmp_path / "gate"
    msg_id = kernel.execute(GATED_CELL.replace("--name gated", f"--name gated --hparam GATE='{gate}'"))
    early = messages_until(kernel, msg_id, lambda m: mentions(m, "waiting for the gate"), 120,
                           "the widget's log tail to show the job's first line while the cell waits")
    assert any(m["msg_type"] == "display_data" and WIDGET_VIEW in m["content"]["data"] for m in early)
    assert not any(m["msg_type"] == "comm_open" and "waiting for the gate" in json.dumps(m["content"]["data"])
                   for m in early)  # drawn by an update after the widget was shown, not at its creation
    messages_until(kernel, msg_id, lambda m: mentions(m, "epoch 1/2"), 30, "the progress line, mid-run")
    assert not any(is_idle(m) for m in early)  # the cell is still running: these were live updates
    gate.touch()
    late = messages_until(kernel, msg_id, is_idle, 120, "the cell to finish")
    results = [m["content"]["data"] for m in late if m["msg_type"] == "execute_result"]
    assert len(results) == 1 and WIDGET_VIEW not in results[0] and "SUCCEEDED" in results[0]["text/plain"]
    streamed = "".join(m["content"]["text"] for m in early + late if m["msg_type"] == "stream")
    assert "waiting for the gate" not in streamed and "through the gate" not in streamed  # no text replay


def test_a_failure_shows_its_traceback_once(kernel):
    msg_id = kernel.execute("%%train --name broken\nraise ValueError('loss is NaN')")
    messages = messages_until(kernel, msg_id, is_idle, 120, "the failing cell to finish")
    [error] = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert error["ename"] == "JobFailed" and "loss is NaN" not in "\n".join(error["traceback"])
    widget_text = "".join(json.dumps(m["content"]["data"]) for m in messages
                          if m["msg_type"] in ("comm_msg", "comm_open"))
    assert "ValueError: loss is NaN" in widget_text  # in the widget's log tail, once
