"""Storage: URLs in, files out, through fsspec.

`file://` (the default, `{HUBML_HOME}/storage`) and `s3://bucket/prefix` (s3fs;
endpoint and keys from the usual `AWS_*` environment, e.g. `AWS_ENDPOINT_URL`
for MinIO, Ceph or SeaweedFS) look the same to callers. `file://` paths are
handled with `os` directly, so the job runtime starts without importing fsspec.

The layout under a storage root (the job contract in DESIGN.md):
    jobs/{id}/bundle/            the code, files and spec the runtime runs
    jobs/{id}/logs/attempt-{n}/  one log per replica and attempt
    jobs/{id}/metrics.jsonl      what hubml.report recorded
    jobs/{id}/model.json         the model version the job exported
    models/{name}/{version}/     TF Serving's layout
"""
from __future__ import annotations

import os
import shutil
from typing import Any


def is_local(url: str) -> bool:
    return url.startswith("file://") or "://" not in url


def local_path(url: str) -> str:
    return url[len("file://"):] if url.startswith("file://") else url


def check_root(url: str) -> str:
    """A storage root every hubml process reads the same way: an absolute path or file:// URL, or
    `<protocol>://<bucket>[/prefix]` of a protocol fsspec knows; no `..` parts anywhere."""
    from hubml.exceptions import InvalidArgument

    scheme, separator, rest = url.partition("://")
    path = rest if separator else url
    if ".." in path.split("/"):
        raise InvalidArgument("storage", f"{url!r} has a '..' part: name the folder or prefix directly")
    if not separator or scheme == "file":
        if not os.path.isabs(path):
            raise InvalidArgument("storage", f"{url!r} is relative, so each process would read it from its own "
                                  "folder: give an absolute path or file:///...")
        return url
    import fsspec

    if scheme not in fsspec.available_protocols():
        raise InvalidArgument("storage", f"{scheme!r} is not a storage protocol fsspec knows: use file://, s3://, "
                              "gs://, ...")
    if not path.strip("/"):
        raise InvalidArgument("storage", f"{url!r} names no bucket: write {scheme}://BUCKET[/PREFIX]")
    return url


def join(url: str, *parts: str) -> str:
    return "/".join([url.rstrip("/"), *(str(p).strip("/") for p in parts)])


def filesystem(url: str) -> tuple[Any, str]:
    """fsspec's `url_to_fs`, with S3 settings taken from the environment."""
    import fsspec

    options: dict[str, Any] = {}
    if url.startswith("s3://"):
        endpoint = os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("HUBML_S3_ENDPOINT")
        if endpoint:
            options["client_kwargs"] = {"endpoint_url": endpoint}
        options["skip_instance_cache"] = True
    return fsspec.core.url_to_fs(url, **options)


def exists(url: str) -> bool:
    if is_local(url):
        return os.path.exists(local_path(url))
    fs, path = filesystem(url)
    return fs.exists(path)


def read_text(url: str) -> str:
    if is_local(url):
        with open(local_path(url)) as handle:
            return handle.read()
    fs, path = filesystem(url)
    return fs.cat_file(path).decode()


def write_text(url: str, text: str) -> None:
    if is_local(url):
        os.makedirs(os.path.dirname(local_path(url)), exist_ok=True)
        temporary = local_path(url) + ".tmp"
        with open(temporary, "w") as handle:
            handle.write(text)
        os.replace(temporary, local_path(url))
        return
    fs, path = filesystem(url)
    fs.pipe_file(path, text.encode())


def listdir(url: str) -> list[str]:
    """Names (not paths) directly under a folder URL; empty when it does not exist."""
    if is_local(url):
        folder = local_path(url)
        return sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    fs, path = filesystem(url)
    if not fs.exists(path):
        return []
    return sorted(entry.rstrip("/").rsplit("/", 1)[-1] for entry in fs.ls(path, detail=False))


def upload(local_dir: str, url: str) -> None:
    """Copy a local folder's contents to a storage folder (merging into what is there)."""
    if is_local(url):
        shutil.copytree(local_dir, local_path(url), dirs_exist_ok=True)
        return
    fs, path = filesystem(url)
    for root, _, names in os.walk(local_dir):
        for name in names:
            source = os.path.join(root, name)
            relative = os.path.relpath(source, local_dir).replace(os.sep, "/")
            fs.put_file(source, f"{path.rstrip('/')}/{relative}")


def download(url: str, local_dir: str) -> None:
    """Copy a storage folder's contents into a local folder."""
    if is_local(url):
        shutil.copytree(local_path(url), local_dir, dirs_exist_ok=True)
        return
    fs, path = filesystem(url)
    os.makedirs(local_dir, exist_ok=True)
    for remote in fs.find(path):
        relative = remote[len(path.rstrip("/")) + 1:]
        target = os.path.join(local_dir, *relative.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        fs.get_file(remote, target)


def remove(url: str) -> None:
    if is_local(url):
        shutil.rmtree(local_path(url), ignore_errors=True)
        return
    fs, path = filesystem(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def model_versions(model_url: str) -> list[int]:
    """Numeric version folders under a model's base, in TF Serving's layout, ascending."""
    return sorted(int(name) for name in listdir(model_url) if name.isdigit())
