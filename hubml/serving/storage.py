"""Where version folders live: a plain path, file://, or s3:// through fsspec.

TensorFlow reads SavedModels from local disk here, so a remote version folder
is first copied whole into a local cache and loaded from there, as TF Serving's
Kubernetes init container does. The cache lives under the user's HUBML_HOME
(mode 0700), never in a shared temporary folder.
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


def cache_root() -> str:
    """`{HUBML_HOME}/serve-cache`, private to this user (0700): nobody else can plant a model there."""
    home = os.path.abspath(os.path.expanduser(os.environ.get("HUBML_HOME") or "~/.hubml"))
    root = os.path.join(home, "serve-cache")
    os.makedirs(root, mode=0o700, exist_ok=True)
    if os.stat(root).st_uid != os.getuid():
        raise StorageError(f"the model cache {root} belongs to another user; remove it or set HUBML_HOME")
    os.chmod(root, 0o700)  # makedirs' mode is masked by the umask, and ignored for a folder already there
    return root


def _fingerprint(fs, remote: str) -> str:
    """What a re-export at the same URL changes: each file's name, size and ETag (else modification time)."""
    fs.invalidate_cache(remote)
    entries = fs.find(remote.rstrip("/"), detail=True)
    parts = []
    for path, info in sorted(entries.items()):
        tag = next((str(info[key]) for key in ("ETag", "etag", "LastModified", "mtime", "last_modified")
                    if info.get(key) is not None), "")
        parts.append(f"{path}\0{info.get('size')}\0{tag}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def local_copy(version_path: str) -> str:
    """A local folder holding the version; remote ones are downloaded once per URL and content.

    The cache key is the URL and the fingerprint of its files, so a version re-exported at the same URL
    is fetched again. A download lands in a private temporary folder renamed into place only when
    complete, so a half-downloaded version is never served, not even after a crash.
    """
    fs, remote = _split(version_path)
    if fs is None:
        return remote
    try:
        root = cache_root()
        key = hashlib.sha256(f"{version_path}\0{_fingerprint(fs, remote)}".encode()).hexdigest()[:32]
        target = os.path.join(root, key)
        if os.path.isdir(target):
            return target
        partial = tempfile.mkdtemp(prefix=f"{key}.partial-", dir=root)
        try:
            fs.get(remote.rstrip("/") + "/", partial + "/", recursive=True)
            os.rename(partial, target)
        except OSError:
            shutil.rmtree(partial, ignore_errors=True)
            if not os.path.isdir(target):  # another process renamed the same content into place first
                raise
    except OSError as error:
        raise StorageError(f"cannot copy {version_path}: {error}") from error
    return target
