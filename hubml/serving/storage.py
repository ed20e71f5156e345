"""Where version folders live: a plain path, file://, or s3:// through fsspec.

TensorFlow reads SavedModels from local disk here, so a remote version folder
is first copied whole into a local cache and loaded from there, as TF Serving's
Kubernetes init container does.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile

from hubml.exceptions import StorageError

SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


def _split(base_path: str):
    import fsspec.core  # imported on first use: plain paths never need it

    if "://" not in base_path or base_path.startswith("file://"):
        return None, base_path.removeprefix("file://")
    try:
        return fsspec.core.url_to_fs(base_path)
    except (ImportError, ValueError) as error:
        raise StorageError(f"cannot open {base_path}: {error}") from error


def list_versions(base_path: str) -> dict[int, str]:
    """Numeric version folders under `base_path` that hold a SavedModel, by version."""
    fs, root = _split(base_path)
    try:
        return _local_versions(root) if fs is None else _remote_versions(fs, root, base_path.rstrip("/"))
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise StorageError(f"cannot list {base_path}: {error}") from error


def _local_versions(root: str) -> dict[int, str]:
    versions = {}
    for name in os.listdir(root):
        folder = os.path.join(root, name)
        if name.isdigit() and any(os.path.isfile(os.path.join(folder, f)) for f in SAVED_MODEL_FILES):
            versions[int(name)] = folder
    return versions


def _remote_versions(fs, root: str, base_url: str) -> dict[int, str]:
    fs.invalidate_cache(root)
    versions = {}
    for entry in fs.ls(root, detail=False):
        name = entry.rstrip("/").rsplit("/", 1)[-1]
        if name.isdigit() and any(fs.isfile(f"{entry.rstrip('/')}/{f}") for f in SAVED_MODEL_FILES):
            versions[int(name)] = f"{base_url}/{name}"
    return versions


def local_copy(version_path: str, cache_dir: str | None = None) -> str:
    """A local folder holding the version; remote ones are downloaded once."""
    fs, remote = _split(version_path)
    if fs is None:
        return remote
    cache_dir = cache_dir or os.path.join(tempfile.gettempdir(), "hubml-serve-cache")
    target = os.path.join(cache_dir, hashlib.sha256(version_path.encode()).hexdigest()[:16])
    if os.path.isdir(target):
        return target
    partial = target + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        fs.get(remote.rstrip("/") + "/", partial, recursive=True)
    except OSError as error:
        raise StorageError(f"cannot copy {version_path}: {error}") from error
    os.replace(partial, target)
    return target
