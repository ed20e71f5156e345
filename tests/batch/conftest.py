"""Batch test fixtures: the `hubml` command run in-process (helpers live in notebook_helpers.py)."""
from __future__ import annotations

import pytest


@pytest.fixture
def hubml_cli(capsys):
    """Run `hubml ARGS...` in this process; returns (exit code, stdout, stderr)."""
    from hubml.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
