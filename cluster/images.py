"""OCI images built offline and imported into the node's containerd: nothing is ever pulled.

Each layer is built the way `docker build` runs a step: a command runs in a
chroot of the layers below it, mounted read-only as the lower folders of an
overlay, and what it writes (the overlay's upper folder) is the new layer.
Layers are cached under `~/.cache/hubml-cluster/layers/<key>/` (the folder,
for the layers above it, and its tar), keyed by everything that goes into them,
so an unchanged image is not rebuilt and one whose only change is hubml's own
source rebuilds that small layer alone.

The images carry the names a real cluster pulls (`ghcr.io/hubml/runtime:0.1.0`,
`registry.k8s.io/pause:3.10`, ...), so the manifests are the same everywhere;
`images/*/Dockerfile` build the same images for a registry. The hubml images
share their layers: a Debian bookworm rootfs with Python (debootstrap), a
virtual environment with what hubml's wheel requires with the image's extras, at
the versions requirements/constraints.txt pins for them (uv, from its warm cache), and
hubml itself (a wheel of this checkout). The runtime, model-fetch and notebook
images share one environment, `hubml[all]`; the notebook adds Jupyter's
configuration on top. The hub's has its own, `hubml[hub]` (no TensorFlow); the
proxy's is Debian with the host's Node.js and the configurable-http-proxy that
`make hub-deps` installed.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from cluster import build, configs, layout

DEBIAN_SUITE = "bookworm"
DEBIAN_PACKAGES = ("python3", "python3-venv", "ca-certificates", "procps")
DEBIAN_MIRROR = os.environ.get("HUBML_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PYTHON = "/usr/bin/python3.11"
VENV = "/opt/hubml/venv"
USER_ID, GROUP_ID = 1000, 100  # jupyter docker-stacks' jovyan, as images/*/Dockerfile use
COREDNS_IMAGE = "registry.k8s.io/coredns/coredns:v1.14.0"
LOCAL_PATH_IMAGE = "docker.io/rancher/local-path-provisioner:v0.0.30"
# What local-path-provisioner's helper pods run (mkdir and rm of a volume's folder): Debian's shell, as root.
VOLUME_HELPER_IMAGE = "localhost/hubml/volume-helper:bookworm"
NOTEBOOK_IMAGE, HUB_IMAGE = "ghcr.io/hubml/notebook:0.1.0", "ghcr.io/hubml/hub:0.1.0"
PROXY_IMAGE = "quay.io/jupyterhub/configurable-http-proxy:5.2.0"
NOTEBOOK_HOME = "/home/jovyan"
# One environment for the runtime, model-fetch and notebook images (the notebook needs every extra but the hub's
# own; sharing the layer keeps one copy of TensorFlow), and the hub's.
SHARED_EXTRAS, HUB_EXTRAS = ("all",), ("hub",)
CONSTRAINTS = layout.REPO / "requirements" / "constraints.txt"
UV = layout.REPO / ".venv" / "bin" / "uv"
UV_CACHE = Path(os.environ.get("UV_CACHE_DIR") or Path.home() / ".cache" / "uv")


@dataclass(frozen=True)
class Layer:
    key: str
    tree: Path
    tar: Path
    digest: str
    size: int


@dataclass
class Image:
    name: str
    layers: list[Layer]
    config: dict = field(default_factory=dict)


# --- layers --------------------------------------------------------------------------


def _layer_folder(key: str) -> Path:
    return layout.CACHE / "layers" / key


def _cached(key: str) -> Layer | None:
    folder = _layer_folder(key)
    record = folder / "layer.json"
    if not record.exists():
        return None
    data = json.loads(record.read_text())
    return Layer(key, folder / "tree", folder / "layer.tar", data["digest"], data["size"])


def _seal(key: str) -> Layer:
    """Tar the layer's tree (OCI whiteouts for what it deleted) and record its digest."""
    folder = _layer_folder(key)
    tree, tar = folder / "tree", folder / "layer.tar"
    _convert_whiteouts(tree)
    subprocess.run(["tar", "--sort=name", "--numeric-owner", "--xattrs", "--exclude=./dev/*", "-C", str(tree),
                    "-cf", str(tar), "."], check=True)
    digest = hashlib.sha256()
    with open(tar, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    record = {"digest": f"sha256:{digest.hexdigest()}", "size": tar.stat().st_size}
    (folder / "layer.json").write_text(json.dumps(record))
    return _cached(key)


def _convert_whiteouts(tree: Path) -> None:
    """overlayfs marks a deleted file with a 0/0 character device; OCI layers with an empty `.wh.<name>`."""
    for folder, _, names in os.walk(tree):
        for name in names:
            path = Path(folder, name)
            info = path.lstat()
            if (info.st_mode & 0o170000) == 0o020000 and info.st_rdev == 0:
                path.unlink()
                Path(folder, f".wh.{name}").touch()


def _key(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def debian_layer() -> Layer:
    """Debian's minimal base with Python, and the user the images run as."""
    key = "debian-" + _key(DEBIAN_SUITE, *DEBIAN_PACKAGES, str(USER_ID), str(GROUP_ID))
    cached = _cached(key)
    if cached:
        return cached
    tree = _fresh(_layer_folder(key) / "tree")
    subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(DEBIAN_PACKAGES)}", DEBIAN_SUITE,
                    str(tree), DEBIAN_MIRROR], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["chroot", str(tree), "useradd", "--uid", str(USER_ID), "--gid", str(GROUP_ID), "--create-home",
                    "--shell", "/bin/bash", "hubml"], check=True)
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for path in (tree / leftover).glob("*"):
            if path.is_file():
                path.unlink()
    return _seal(key)


def step_layer(name: str, below: list[Layer], command: str, inputs: dict[str, Path], key_parts: list[str | bytes]) \
        -> Layer:
    """The layer `command` writes when run (sh -c, as root) in a chroot of `below`, with `inputs` copied in."""
    key = f"{name}-" + _key(*(layer.key for layer in below), command, *key_parts)
    cached = _cached(key)
    if cached:
        return cached
    folder = _layer_folder(key)
    upper, work, root = _fresh(folder / "tree"), _fresh(folder / "work"), _fresh(folder / "root")
    lower = ":".join(str(layer.tree) for layer in reversed(below))
    with _mounted(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lower},upperdir={upper},workdir={work}",
                   str(root)], root):
        staging = root / "tmp" / "hubml-build"
        staging.mkdir(parents=True)
        for target, source in {**inputs, "uv": UV}.items():
            shutil.copy2(source, staging / target)
        with _build_mounts(root):
            subprocess.run(["chroot", str(root), "/usr/bin/env", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
                            "UV_LINK_MODE=copy", "HOME=/root", "/bin/sh", "-ec", command], check=True)
        shutil.rmtree(staging)
    shutil.rmtree(work)
    root.rmdir()
    for scratch in ("tmp", "root/.cache"):
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(upper / scratch)
    return _seal(key)


@contextlib.contextmanager
def _build_mounts(root: Path) -> Iterator[None]:
    """What a build step needs from the host: /proc, the uv cache and the host's CA bundle (its proxy's CA)."""
    (root / "root" / ".cache" / "uv").mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        stack.enter_context(_mounted(["mount", "-t", "proc", "proc", str(root / "proc")], root / "proc"))
        stack.enter_context(_mounted(["mount", "--bind", str(UV_CACHE), str(root / "root" / ".cache" / "uv")],
                                     root / "root" / ".cache" / "uv"))
        bundle = root / "etc" / "ssl" / "certs" / "ca-certificates.crt"
        stack.enter_context(_mounted(["mount", "--bind", "-o", "ro", "/etc/ssl/certs/ca-certificates.crt",
                                      str(bundle)], bundle))
        if not (root / "etc" / "resolv.conf").exists():
            (root / "etc" / "resolv.conf").touch()
        stack.enter_context(_mounted(["mount", "--bind", "-o", "ro", "/etc/resolv.conf",
                                      str(root / "etc" / "resolv.conf")], root / "etc" / "resolv.conf"))
        yield


@contextlib.contextmanager
def _mounted(command: list[str], target: Path) -> Iterator[None]:
    subprocess.run(command, check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", str(target)], check=True)


def _fresh(folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def files_layer(name: str, files: dict[str, Path], mode: int = 0o755) -> Layer:
    """A layer of a few files, each at its path in the image (a static binary, say)."""
    key = f"{name}-" + _key(*(f"{target}\0{hashlib.sha256(source.read_bytes()).hexdigest()}"
                              for target, source in sorted(files.items())))
    cached = _cached(key)
    if cached:
        return cached
    tree = _fresh(_layer_folder(key) / "tree")
    for target, source in files.items():
        path = tree / target.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, path)
        path.chmod(mode)
    return _seal(key)


# --- the images ----------------------------------------------------------------------


def python_layers(extras: tuple[str, ...] = SHARED_EXTRAS) -> list[Layer]:
    """Debian with Python, a virtual environment with what `hubml[extras]` requires, then hubml."""
    debian = debian_layer()
    wheel = hubml_wheel()
    requirements = image_requirements(wheel, extras)
    constraints = direct_constraints(requirements)
    environment = step_layer(
        "venv", [debian], f"/tmp/hubml-build/uv venv --quiet {VENV} --python {PYTHON}\n"
                          f"/tmp/hubml-build/uv pip install --quiet --python {VENV}/bin/python "
                          "-c /tmp/hubml-build/constraints.txt -r /tmp/hubml-build/requirements.txt",
        {"requirements.txt": requirements, "constraints.txt": constraints},
        [requirements.read_bytes(), constraints.read_bytes()])
    hubml = step_layer(
        "hubml", [debian, environment],
        f"/tmp/hubml-build/uv pip install --quiet --no-deps --python {VENV}/bin/python /tmp/hubml-build/{wheel.name}\n"
        f"{VENV}/bin/python -m compileall -q {VENV}/lib/python3.11/site-packages/hubml",
        {wheel.name: wheel}, [wheel.read_bytes()])
    return [debian, environment, hubml]


def hubml_wheel() -> Path:
    """A wheel of this checkout (pure Python), rebuilt when its sources change."""
    sources = [path for folder in ("hubml", "magics", "extension") for path in (layout.REPO / folder).rglob("*")
               if path.is_file() and "node_modules" not in path.parts and "__pycache__" not in path.parts]
    sources.append(layout.REPO / "setup.py")
    key = _key(*(f"{path.relative_to(layout.REPO)}\0{hashlib.sha256(path.read_bytes()).hexdigest()}"
                 for path in sorted(sources)))
    folder = layout.CACHE / "wheels" / key
    wheels = list(folder.glob("*.whl")) if folder.exists() else []
    if not wheels:
        with tempfile.TemporaryDirectory() as scratch:
            subprocess.run([str(UV), "build", "--wheel", "--quiet", "--out-dir",
                            scratch, str(layout.REPO)], check=True)
            folder.mkdir(parents=True, exist_ok=True)
            for built in Path(scratch).glob("*.whl"):
                shutil.move(str(built), folder / built.name)
        wheels = list(folder.glob("*.whl"))
    return wheels[0]


def direct_constraints(requirements: Path) -> Path:
    """The pins of requirements/constraints.txt for the packages the image names itself. Their dependencies
    resolve for the image's Python (Debian's 3.11.2), which some of the development machine's pins, made on a
    newer 3.11, exclude (soupsieve 4.1 needs 3.11.5)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    named = {canonicalize_name(Requirement(line).name) for line in requirements.read_text().split("\n") if line}
    pins = [line for line in CONSTRAINTS.read_text().splitlines()
            if line and not line.startswith("#") and canonicalize_name(Requirement(line).name) in named]
    path = requirements.with_name(requirements.stem + "-constraints.txt")
    path.write_text("".join(f"{line}\n" for line in pins))
    return path


def image_requirements(wheel: Path, extras: tuple[str, ...]) -> Path:
    """What the wheel requires with `extras` (its METADATA's Requires-Dist), written beside it: the venv
    layer's input, so that layer is rebuilt when the requirements change, not when hubml's source does."""
    from email.parser import Parser

    from packaging.requirements import Requirement

    with zipfile.ZipFile(wheel) as archive:
        name = next(name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(name).decode())
    wanted = []
    for line in metadata.get_all("Requires-Dist") or []:
        requirement = Requirement(line)
        if requirement.marker is None or any(requirement.marker.evaluate({"extra": extra}) for extra in extras):
            requirement.marker = None
            wanted.append(str(requirement))
    path = wheel.with_name(f"requirements-{'-'.join(extras)}.txt")
    path.write_text("".join(f"{line}\n" for line in sorted(set(wanted))))
    return path


def hubml_images() -> list[Image]:
    from hubml.backends.kubernetes.options import Kubernetes

    defaults = Kubernetes()
    layers = python_layers()
    environment = [f"PATH={VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                   "PYTHONUNBUFFERED=1", "LANG=C.UTF-8"]
    user = f"{USER_ID}:{GROUP_ID}"
    return [
        Image(defaults.runtime_image, layers, {"Env": environment, "Cmd": ["python3", "-m", "hubml.runtime"],
                                               "User": user, "WorkingDir": "/home/hubml"}),
        Image(defaults.model_fetch_image, layers, {"Env": environment, "Cmd": ["python3", "-c", "import hubml.storage"],
                                                   "User": "65534"}),
    ]


def system_images() -> list[Image]:
    pause = files_layer("pause", {"/pause": build.pause_binary()})
    coredns = files_layer("coredns", {"/coredns": build.binaries("coredns") / "coredns"})
    local_path = files_layer("local-path-provisioner", {
        "/usr/bin/local-path-provisioner": build.binaries("local-path-provisioner") / "local-path-provisioner"})
    return [Image(configs.PAUSE_IMAGE, [pause], {"Entrypoint": ["/pause"], "User": "65535:65535"}),
            Image(COREDNS_IMAGE, [coredns], {"Entrypoint": ["/coredns"]}),
            Image(LOCAL_PATH_IMAGE, [local_path], {"Env": ["PATH=/usr/bin"]}),
            Image(VOLUME_HELPER_IMAGE, [debian_layer()], {"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "User": "0"})]


def hub_images() -> list[Image]:
    """The notebook, the hub and the proxy, under the names the chart and the profiles give them."""
    environment = [f"PATH={VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                   "PYTHONUNBUFFERED=1", "LANG=C.UTF-8"]
    user = f"{USER_ID}:{GROUP_ID}"
    jupyter = files_layer("jupyter-config", {
        "/etc/jupyter/jupyter_server_config.d/hubml.json":
            layout.REPO / "extension" / "jupyter-config" / "jupyter_server_config.d" / "hubml.json",
        "/etc/ipython/ipython_kernel_config.py": layout.REPO / "images" / "notebook" / "ipython_kernel_config.py"},
        mode=0o644)
    notebook = Image(NOTEBOOK_IMAGE, [*python_layers(), jupyter], {
        "Env": [*environment, f"HOME={NOTEBOOK_HOME}", "NB_USER=jovyan", "SHELL=/bin/bash"],
        "Cmd": ["jupyterhub-singleuser"], "User": user, "WorkingDir": NOTEBOOK_HOME})
    hub = Image(HUB_IMAGE, python_layers(HUB_EXTRAS), {
        "Env": environment, "Cmd": ["jupyterhub"], "User": f"{USER_ID}", "WorkingDir": "/srv/jupyterhub"})
    return [notebook, hub, Image(PROXY_IMAGE, [debian_layer(), proxy_layer()], {
        "Env": ["PATH=/opt/configurable-http-proxy/node_modules/.bin:/usr/local/bin:/usr/bin:/bin"],
        "Cmd": ["configurable-http-proxy"], "User": "65534"})]


def proxy_layer() -> Layer:
    """Node.js (the host's, which `make hub-deps` runs the local hub's proxy with) and configurable-http-proxy."""
    node = Path(shutil.which("node") or "/usr/bin/node").resolve()
    modules = layout.REPO / "hub_config" / "node_modules"
    lock = layout.REPO / "hub_config" / "package-lock.json"
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "node_modules.tar"
        subprocess.run(["tar", "-C", str(modules.parent), "-cf", str(archive), modules.name], check=True)
        return step_layer(
            "proxy", [debian_layer()],
            "install -m 0755 /tmp/hubml-build/node /usr/local/bin/node\n"
            "mkdir -p /opt/configurable-http-proxy\n"
            "tar -C /opt/configurable-http-proxy -xf /tmp/hubml-build/node_modules.tar --no-same-owner",
            {"node": node, "node_modules.tar": archive},
            [hashlib.sha256(node.read_bytes()).hexdigest(), lock.read_bytes()])


# --- into containerd -------------------------------------------------------------------


def _blob(data: bytes) -> tuple[str, int]:
    return f"sha256:{hashlib.sha256(data).hexdigest()}", len(data)


def manifest_of(image: Image) -> tuple[bytes, bytes]:
    """The image's config and manifest, as the bytes their digests are taken of."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": image.config,
                         "rootfs": {"type": "layers", "diff_ids": [layer.digest for layer in image.layers]}},
                        sort_keys=True).encode()
    config_digest, config_size = _blob(config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                   "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer.digest,
                    "size": layer.size} for layer in image.layers],
    }, sort_keys=True).encode()
    return config, manifest


def imported(ctr: list[str]) -> dict[str, str]:
    """Image name -> manifest digest, of what containerd holds."""
    listed = subprocess.run([*ctr, "images", "list"], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in listed.splitlines()[1:]]
    return {row[0]: row[2] for row in rows if len(row) > 2}


def stored_blobs(ctr: list[str]) -> set[str]:
    """The digests of the blobs in containerd's content store."""
    listed = subprocess.run([*ctr, "content", "ls", "--quiet"], capture_output=True, text=True, check=True).stdout
    return set(listed.split())


def ensure_imported(images: list[Image], ctr: list[str]) -> None:
    """Import each image into containerd unless it already holds that exact manifest under that name. Layers
    containerd already stores are left out of the archive: it finds them by digest (images share their big
    Python layers, so a second image costs its own small layers alone)."""
    held = imported(ctr)
    for image in images:
        config, manifest = manifest_of(image)
        if held.get(image.name) == _blob(manifest)[0]:
            continue
        print(f"cluster: importing {image.name} into containerd", flush=True)
        process = subprocess.Popen([*ctr, "images", "import", "-"], stdin=subprocess.PIPE,
                                   stdout=subprocess.DEVNULL)
        with tarfile.open(fileobj=process.stdin, mode="w|") as archive:
            _write_oci_archive(archive, image, config, manifest, stored_blobs(ctr))
        process.stdin.close()
        if process.wait() != 0:
            raise RuntimeError(f"ctr could not import {image.name}")


def _write_oci_archive(archive: tarfile.TarFile, image: Image, config: bytes, manifest: bytes,
                       stored: set[str]) -> None:
    digest, size = _blob(manifest)
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": size,
        "platform": {"architecture": "amd64", "os": "linux"},
        "annotations": {"io.containerd.image.name": image.name,
                        "org.opencontainers.image.ref.name": image.name.rsplit(":", 1)[-1]}}]}).encode()
    for name, data in (("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'), ("index.json", index),
                       (f"blobs/sha256/{_blob(config)[0][7:]}", config), (f"blobs/sha256/{digest[7:]}", manifest)):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    for layer in image.layers:
        if layer.digest in stored:
            continue
        info = tarfile.TarInfo(f"blobs/sha256/{layer.digest[7:]}")
        info.size = layer.size
        with open(layer.tar, "rb") as handle:
            archive.addfile(info, handle)
