"""On a machine with NVIDIA GPUs: the local backend counts them and gives each job its own.

Skipped where there is no GPU (CI here); run on a lent GPU machine with
`python -m pytest tests/core/test_gpu.py`. The job code uses whichever GPU
framework the machine has (PyTorch on the lent machines, which have no TensorFlow).
"""
import glob

import pytest

from hubml.exceptions import InvalidArgument

GPUS = len(glob.glob("/dev/nvidia[0-9]*"))
pytestmark = pytest.mark.skipif(GPUS == 0, reason="no NVIDIA GPU on this machine")

PROBE = """
import os
import torch
print("visible", os.environ["CUDA_VISIBLE_DEVICES"] or "-", "count", torch.cuda.device_count())
if torch.cuda.device_count():
    x = torch.randn(2048, 2048, device="cuda")
    print("device", torch.cuda.get_device_name(0), "checksum", float((x @ x).abs().sum()) > 0)
"""


def test_capacity_counts_the_gpus_and_jobs_see_only_their_own(client):
    assert client.backend.capacity["gpus"] == GPUS
    with_gpu = client.train(PROBE, name="gpu-job", gpus=1).wait(timeout=300)
    without = client.train(PROBE, name="cpu-job").wait(timeout=300)
    gpu_lines = [line.text for line in with_gpu.logs()]
    assert "visible 0 count 1" in gpu_lines
    assert any(text.startswith("device NVIDIA") and text.endswith("checksum True") for text in gpu_lines)
    assert "visible - count 0" in [line.text for line in without.logs()]
    with pytest.raises(InvalidArgument) as error:
        client.train(PROBE, name="too-many", gpus=GPUS + 1)
    assert error.value.argument == "--gpus"
