"""Endpoints on the local backend: real `hubml serve` processes behind detached supervisors.

Every test here runs in its own HUBML_HOME (the root `hubml_home` fixture) and
undeploys whatever it left, so no server outlives its test.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from deploy_helpers import HALF_PLUS_THREE, HALF_PLUS_TWO


@pytest.fixture(autouse=True)
def undeploy_leftovers(hubml_home):
    yield
    from hubml.client import Client

    client = Client()
    for endpoint in client.endpoints():
        client.undeploy(endpoint.name)


@pytest.fixture
def two_versions(tmp_path) -> Path:
    """A model folder in TF Serving's layout: version 1 halves and adds two, version 2 halves and adds three."""
    base = tmp_path / "halves"
    shutil.copytree(HALF_PLUS_TWO / "00000123", base / "1")
    shutil.copytree(HALF_PLUS_THREE / "00000123", base / "2")
    return base
