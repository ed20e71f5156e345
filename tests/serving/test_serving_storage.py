"""The s3:// model cache of `hubml serve` (hubml.serving.storage), against a real S3 server (SeaweedFS)."""
from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from hubml.serving.storage import local_copy

HALF_PLUS_TWO = "saved_model_half_plus_two_cpu/00000123"
HALF_PLUS_THREE = "saved_model_half_plus_three/00000123"


@pytest.fixture
def s3(s3_storage, seaweedfs):
    """(s3fs filesystem, a version URL nothing is uploaded to yet)."""
    import s3fs

    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": seaweedfs}, skip_instance_cache=True)
    return fs, s3_storage.rstrip("/") + "/models/m/7"


def upload(fs, testdata: Path, version: str, url: str) -> None:
    if fs.exists(url):
        fs.rm(url, recursive=True)
    fs.put(str(testdata / version) + "/", url + "/", recursive=True)


def test_remote_versions_are_cached_privately_under_hubml_home(s3, testdata, hubml_home):
    fs, url = s3
    upload(fs, testdata, HALF_PLUS_TWO, url)
    root = hubml_home / "serve-cache"
    root.mkdir(parents=True)
    os.chmod(root, 0o777)  # as a shared temporary folder would be
    local = Path(local_copy(url))
    assert local.parent == root
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert (local / "saved_model.pb").read_bytes() == (testdata / HALF_PLUS_TWO / "saved_model.pb").read_bytes()
    assert Path(local_copy(url)) == local  # unchanged: not fetched again


def test_a_version_re_exported_at_the_same_url_is_fetched_again(s3, testdata):
    fs, url = s3
    upload(fs, testdata, HALF_PLUS_TWO, url)
    first = Path(local_copy(url))
    upload(fs, testdata, HALF_PLUS_THREE, url)
    second = Path(local_copy(url))
    assert second != first
    assert (second / "saved_model.pb").read_bytes() == \
        (testdata / HALF_PLUS_THREE / "saved_model.pb").read_bytes()


def test_a_half_downloaded_version_is_never_served(s3, testdata):
    fs, url = s3
    upload(fs, testdata, HALF_PLUS_TWO, url)
    complete = Path(local_copy(url))
    shutil.rmtree(complete)
    crashed = complete.parent / f"{complete.name}.partial-crashed"  # what a download killed midway leaves
    shutil.copytree(testdata / HALF_PLUS_TWO, crashed)
    (crashed / "saved_model.pb").write_bytes((crashed / "saved_model.pb").read_bytes()[:100])
    served = Path(local_copy(url))
    assert served == complete
    assert (served / "saved_model.pb").read_bytes() == (testdata / HALF_PLUS_TWO / "saved_model.pb").read_bytes()
    assert not [entry for entry in served.parent.iterdir() if ".partial-" in entry.name and entry != crashed]
