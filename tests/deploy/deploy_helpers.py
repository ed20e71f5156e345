"""Shared by the endpoint tests: TF Serving's test models, the `hubml` command, live serving processes."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from testdata import TF_SERVING_TESTDATA as TESTDATA
HALF_PLUS_TWO = TESTDATA / "saved_model_half_plus_two_tf2_cpu"
HALF_PLUS_THREE = TESTDATA / "saved_model_half_plus_three"
QUIET_TF = {"TF_CPP_MIN_LOG_LEVEL": "2"}


def hubml(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    """The `hubml` command in a fresh process, as a terminal user runs it."""
    result = subprocess.run([sys.executable, "-c", "import sys; from hubml.cli import main; sys.exit(main())", *args],
                            capture_output=True, text=True, timeout=timeout, env={**os.environ, **QUIET_TF})
    if check and result.returncode != 0:
        raise AssertionError(f"hubml {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


def serving_processes(home: Path) -> list[str]:
    """Command lines of live endpoint supervisors and servers started for this HUBML_HOME."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(home) in command and ("endpoint_supervisor" in command or " serve " in command):
            found.append(command)
    return found
