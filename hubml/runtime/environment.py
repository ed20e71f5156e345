"""Per-job Python environments for `--requirements` and a package's declared dependencies, cached by hash.

What goes in is one requirements file (see `hubml.runtime.dependencies`).

The environment is a venv whose `.pth` adds the base interpreter's
site-packages after its own, so the job sees TensorFlow and hubml from the
base while its requirements win where they differ; the notebook's own
environment is never touched. Creation takes a file lock, so jobs that share
requirements build the environment once.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import venv


class RequirementsFailed(RuntimeError):
    """pip (or uv) could not install the job's requirements; its output is in the job log."""


def python_for(requirements: str, cache_root: str) -> str:
    """The interpreter of a ready environment with `requirements` installed."""
    with open(requirements, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()[:16]
    folder = os.path.join(cache_root, digest)
    python = os.path.join(folder, "bin", "python")
    os.makedirs(cache_root, exist_ok=True)
    with open(os.path.join(cache_root, f"{digest}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(folder, ".complete")):
            print(f"[hubml] using cached environment {digest} for {os.path.basename(requirements)}", flush=True)
            return python
        shutil.rmtree(folder, ignore_errors=True)
        print(f"[hubml] installing {os.path.basename(requirements)} into environment {digest}", flush=True)
        _create(folder)
        _install(python, requirements, folder)
        open(os.path.join(folder, ".complete"), "w").close()
    return python


def _create(folder: str) -> None:
    venv.EnvBuilder(with_pip=False, symlinks=True).create(folder)
    site_packages = subprocess.check_output(
        [os.path.join(folder, "bin", "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        text=True).strip()
    base = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    # addsitedir (not a bare path) so the base's own .pth files, editable installs included, apply too.
    lines = [f"import site; site.addsitedir({path!r})" for path in sorted(base)]
    with open(os.path.join(site_packages, "_hubml_base.pth"), "w") as handle:
        handle.write("\n".join(lines) + "\n")


def _install(python: str, requirements: str, folder: str) -> None:
    uv = shutil.which("uv", path=os.path.dirname(sys.executable))
    command = ([uv, "pip", "install", "--python", python, "-r", requirements] if uv
               else [sys.executable, "-m", "pip", "--python", python, "install", "-r", requirements])
    result = subprocess.run(command, stdout=sys.stdout, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise RequirementsFailed(f"installing {os.path.basename(requirements)} failed (exit {result.returncode}); "
                                 "see the lines above")
