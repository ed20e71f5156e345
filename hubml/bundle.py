"""A job's bundle: everything the runtime needs to run it, in one folder.

    bundle/spec.json          the validated TrainSpec
    bundle/main.py            the cell or script body (when not a package)
    bundle/project/           the --package folder, put on sys.path (its src/ too, if it has one)
    bundle/requirements.txt   --requirements
    bundle/<files...>         --files, at the relative paths the code uses

The runtime runs with `bundle/` as its working folder, so code that opens
`data.csv` in the notebook opens the shipped copy in the job.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile

from hubml import storage
from hubml.exceptions import InvalidArgument
from hubml.redaction import redact_spec
from hubml.specs import TrainSpec

IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".git", ".ipynb_checkpoints", ".venv", "node_modules")
MAX_BUNDLE_BYTES = 512 * 2**20


def build(spec: TrainSpec, folder: str) -> str:
    """Write the bundle for a validated spec into `folder` and return it."""
    shipped = {path: shipped_name(path) for path in spec.files}  # refuses a bad path before anything is copied
    for path in spec.files:
        source = os.path.realpath(spec._local(path))
        if os.path.realpath(folder).startswith(source.rstrip(os.sep) + os.sep):
            raise InvalidArgument("--files", f"{path!r} holds hubml's storage, where the job's bundle is written "
                                  f"({folder}): name the files or folders the job needs")
    os.makedirs(folder, exist_ok=True)
    if spec.package:
        shutil.copytree(spec._local(spec.package), os.path.join(folder, project_path(spec._local(spec.package))),
                        ignore=IGNORED)
    else:
        with open(os.path.join(folder, "main.py"), "w") as handle:
            handle.write(spec.code or "")
    if spec.requirements:
        shutil.copyfile(spec._local(spec.requirements), os.path.join(folder, "requirements.txt"))
    for path in spec.files:
        _copy_file(spec._local(path), os.path.join(folder, shipped[path]))
    with open(os.path.join(folder, "spec.json"), "w") as handle:
        json.dump(redact_spec(spec.to_dict()), handle, indent=1, default=str)  # env is the supervisor's to give
    _check_size(folder)
    return folder


def publish(spec: TrainSpec, job_url: str) -> str:
    """Build the bundle straight into local storage, or build and upload it; returns its URL."""
    url = storage.join(job_url, "bundle")
    if storage.is_local(url):
        build(spec, storage.local_path(url))
        return url
    with tempfile.TemporaryDirectory(prefix="hubml-bundle-") as scratch:
        storage.upload(build(spec, scratch), url)
    return url


def project_path(package: str) -> str:
    """A project (setup.py/pyproject.toml) ships as `project/`; a bare package keeps its import name under it."""
    if os.path.isfile(os.path.join(package, "__init__.py")):
        return os.path.join("project", os.path.basename(os.path.abspath(package)))
    return "project"


def shipped_name(path: str) -> str:
    """Where a --files path lands in the bundle: relative paths keep their shape, others their base name."""
    normal = os.path.normpath(path)
    name = os.path.basename(normal.rstrip(os.sep)) if os.path.isabs(normal) or normal.startswith("..") else normal
    if name in ("", ".", ".."):  # `/`, `.`, `..`: a whole folder around the job, maybe holding its own storage
        raise InvalidArgument("--files", f"{path!r} would ship the current, a parent or the root folder whole: "
                              "name the files or folders the job needs")
    return name


def _copy_file(source: str, target: str) -> None:
    os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    if os.path.isdir(source):
        shutil.copytree(source, target, ignore=IGNORED, dirs_exist_ok=True)
    else:
        shutil.copyfile(source, target)


def _check_size(folder: str) -> None:
    size = sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(folder) for name in names)
    if size > MAX_BUNDLE_BYTES:
        raise InvalidArgument(
            "--files", f"the bundle is {size / 2**20:.0f} MiB (limit {MAX_BUNDLE_BYTES / 2**20:.0f} MiB): "
            "put large data in storage and read it from there")
