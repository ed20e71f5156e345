"""TensorFlow's start-up chatter stays out of job logs and cells; warnings and errors, and the raw files, keep it all."""
from __future__ import annotations

import glob
import os

from jupyter_client.manager import start_new_kernel

from hubml.quiet_tensorflow import is_no_driver_line, machine_has_gpu

TENSORFLOW_JOB = """
import sys
import tensorflow as tf
print("devices", [device.device_type for device in tf.config.list_physical_devices()])
print("a warning of the user's own", file=sys.stderr)
"""


def raw_log(client, job) -> str:
    from hubml import storage

    folder = storage.local_path(f"{client.backend.job_url(job.id)}/logs")
    return "".join(open(path).read() for path in glob.glob(f"{folder}/attempt-*/*.log"))


def test_a_tensorflow_jobs_log_has_no_start_up_chatter_but_keeps_what_the_user_wrote(client):
    job = client.train(TENSORFLOW_JOB, name="quiet").wait(timeout=300)
    texts = [line.text for line in job.logs()]
    assert "devices ['CPU']" in texts and "a warning of the user's own" in texts
    assert not [text for text in texts if "cuda" in text.lower() or "cpu_feature_guard" in text or "absl" in text]
    if not machine_has_gpu():  # the full wheel on a CPU machine: the raw file still holds the no-driver lines
        assert [line for line in raw_log(client, job).splitlines() if is_no_driver_line(line)]


def test_a_log_level_the_user_chose_is_kept(client):
    job = client.train(TENSORFLOW_JOB, name="loud", env={"TF_CPP_MIN_LOG_LEVEL": "0"}).wait(timeout=300)
    assert any("cpu_feature_guard" in line.text for line in job.logs())  # TensorFlow's INFO lines, as asked


def test_the_first_predict_in_a_kernel_prints_nothing_to_stderr(client, hubml_home):
    from testdata import TF_SERVING_TESTDATA

    client.deploy(str(TF_SERVING_TESTDATA / "saved_model_half_plus_two_tf2_cpu"), name="quiet-hp")
    environment = {**os.environ}
    environment.pop("TF_CPP_MIN_LOG_LEVEL", None)
    manager, kernel = start_new_kernel(env=environment)
    streams: list[tuple[str, str]] = []
    try:
        reply = kernel.execute_interactive(
            "import hubml\nprint(hubml.Client().endpoint('quiet-hp').predict([1.0, 2.0]).tolist())",
            timeout=180, output_hook=lambda message: streams.append(
                (message["content"].get("name"), message["content"].get("text", "")))
            if message["msg_type"] == "stream" else None)
    finally:
        kernel.stop_channels()
        manager.shutdown_kernel(now=True)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert ("stdout", "[2.5, 3.0]\n") in streams
    assert [text for name, text in streams if name == "stderr"] == []
