"""TensorFlow's start-up chatter stays out of job logs and cells; warnings and errors, and the raw files, keep it all."""
from __future__ import annotations

import glob
import os

from jupyter_client.manager import start_new_kernel

from hubml.quiet_tensorflow import EARLY_INFO_LINES, is_no_driver_line, is_start_up_chatter, machine_has_gpu

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
    assert not [text for text in texts
                if "cuda" in text.lower() or "cpu_feature_guard" in text or "absl" in text or "oneDNN" in text]
    if not machine_has_gpu():  # the full wheel on a CPU machine: the raw file still holds the no-driver lines
        assert [line for line in raw_log(client, job).splitlines() if is_no_driver_line(line)]


def test_a_log_level_the_user_chose_is_kept(client):
    job = client.train(TENSORFLOW_JOB, name="loud", env={"TF_CPP_MIN_LOG_LEVEL": "0"}).wait(timeout=300)
    texts = [line.text for line in job.logs()]
    assert any("cpu_feature_guard" in text for text in texts)  # TensorFlow's INFO lines, as asked
    early = [line for line in raw_log(client, job).splitlines() if EARLY_INFO_LINES.match(line) and "oneDNN" in line]
    assert all(line in texts for line in early)  # those written before its logging starts too (CPU-dependent)


# As TensorFlow 2.21 writes them, on a CPU with AVX-512 FP16 and without NVIDIA's driver.
BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
ONEDNN = ("I0000 00:00:1796238074.872471   11238 port.cc:153] oneDNN custom operations are on. You may see slightly "
          "different numerical results due to floating-point round-off errors from different computation orders. "
          "To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.")
CUINIT = ("E0000 00:00:1796238086.881299   11238 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: "
          "Failed call to cuInit: UNKNOWN ERROR (303)")


def test_start_up_chatter_is_dropped_only_where_it_means_nothing():
    assert is_start_up_chatter(ONEDNN, gpu_expected=True, wants_info=False)
    assert not is_start_up_chatter(ONEDNN, gpu_expected=False, wants_info=True)
    assert is_start_up_chatter(CUINIT, gpu_expected=False, wants_info=True)
    assert not is_start_up_chatter(CUINIT, gpu_expected=True, wants_info=False)
    assert is_start_up_chatter(BANNER, gpu_expected=True, wants_info=False)
    assert not is_start_up_chatter(BANNER, gpu_expected=True, wants_info=True)
    for own in ("oneDNN custom operations are on. " + ONEDNN, "I0000 my own port.cc:1] oneDNN", "cuInit failed"):
        assert not is_start_up_chatter(own, gpu_expected=False, wants_info=False)


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
