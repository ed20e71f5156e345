"""Build what the cluster runs from published sources, once per pinned version.

Each folder under cluster/components/ is a small Go module that pins one
upstream release (its go.mod) and has a `cmd/` per binary, or names upstream's
own command as a `tool` of the module. Its binaries land in
`~/.cache/hubml-cluster/bin/<module>-<versions>-<hash>/`, named by the versions
its go.mod pins and a hash of its sources, so a second build of the same
versions is a lookup. The pause container's binary is upstream's `pause.c` from
the same k8s.io/kubernetes module, compiled static.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import re
import subprocess
import time
from pathlib import Path

from cluster import layout

COMPONENTS = layout.REPO / "cluster" / "components"
# Versions named in a binary folder's name, so the cache reads like a list of what was built.
NAMED_MODULES = ("k8s.io/kubernetes", "github.com/coredns/coredns", "helm.sh/helm/v3",
                 "github.com/cloudnativelabs/kube-router/v2", "github.com/rancher/local-path-provisioner")


class BuildFailed(RuntimeError):
    pass


# Binaries that run inside images, which carry no C library, are built static; the rest run on the host.
STATIC = {"coredns", "local-path-provisioner"}


def go_environment(static: bool = False) -> dict[str, str]:
    return {**os.environ, "CGO_ENABLED": "0" if static else "1", "GOFLAGS": "-buildvcs=false"}


def pinned_versions(module: Path) -> dict[str, str]:
    text = (module / "go.mod").read_text()
    return {path: version for path, version in re.findall(r"^\s*(?:require\s+)?(\S+)\s+(v\S+)", text, re.M)
            if path in NAMED_MODULES}


def version_flags(name: str) -> list[str]:
    """What upstream's release builds stamp into the binaries (Kubernetes' hack/lib/version.sh), so that they
    report the version they are: Helm checks a chart's `kubeVersion` against the API server's."""
    if name != "kubernetes":
        return []
    version = pinned_versions(COMPONENTS / name)["k8s.io/kubernetes"]
    major, minor = version.removeprefix("v").split(".")[:2]
    stamped = {"gitVersion": version, "gitMajor": major, "gitMinor": minor, "gitTreeState": "clean"}
    return [f"-X k8s.io/component-base/version.{key}={value}" for key, value in stamped.items()]


def binary_folder(name: str) -> Path:
    module = COMPONENTS / name
    digest = hashlib.sha256(" ".join(version_flags(name)).encode())
    for path in sorted(module.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(module)).encode() + b"\0" + path.read_bytes())
    versions = "-".join(version for _, version in sorted(pinned_versions(module).items()))
    return layout.CACHE / "bin" / f"{name}-{versions}-{digest.hexdigest()[:10]}"


def binaries(name: str) -> Path:
    """The folder holding module `name`'s binaries, built first if missing (by one process at a time: `make
    cluster` and a test session may ask together)."""
    folder = binary_folder(name)
    if (folder / ".complete").exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.with_name(folder.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".complete").exists():
            _build(name, folder)
    return folder


def _build(name: str, folder: Path) -> None:
    module = COMPONENTS / name
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)  # what a build that was stopped left
    partial.mkdir(parents=True)
    started = time.monotonic()
    print(f"cluster: building {name} ({', '.join(f'{p} {v}' for p, v in pinned_versions(module).items())}); "
          "a cold build takes many minutes on two cores", flush=True)
    run(["go", "build", "-trimpath", f"-ldflags=-s -w {' '.join(version_flags(name))}", "-o", f"{partial}/",
         *_packages(module)], cwd=module, static=name in STATIC)
    (partial / ".complete").write_text(f"{time.monotonic() - started:.0f} s\n")
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    print(f"cluster: built {name} in {time.monotonic() - started:.0f} s", flush=True)


def _packages(module: Path) -> list[str]:
    """`./cmd/...` for commands of our own, `tool` for upstream commands built as they are."""
    tools = re.search(r"^tool\b", (module / "go.mod").read_text(), re.M)
    return [*(["./cmd/..."] if (module / "cmd").exists() else []), *(["tool"] if tools else [])]


def pause_binary() -> Path:
    """Upstream's pause (build/pause/linux/pause.c of the pinned k8s.io/kubernetes), compiled static."""
    kubernetes = COMPONENTS / "kubernetes"
    version = pinned_versions(kubernetes)["k8s.io/kubernetes"]
    target = layout.CACHE / "bin" / f"pause-{version}" / "pause"
    if target.exists():
        return target
    source = module_source(kubernetes, "k8s.io/kubernetes") / "build" / "pause" / "linux" / "pause.c"
    target.parent.mkdir(parents=True, exist_ok=True)
    run(["gcc", "-Os", "-static", "-Wall", "-Werror", f"-DVERSION=\"{version}\"", "-o", f"{target}.partial",
         str(source)])
    os.replace(f"{target}.partial", target)
    return target


def module_source(module: Path, path: str) -> Path:
    """Where the Go module cache holds `path` at the version `module` resolves it to."""
    output = run(["go", "list", "-m", "-f", "{{.Dir}}", path], cwd=module, capture=True)
    if not output.strip():
        run(["go", "mod", "download", path], cwd=module)
        output = run(["go", "list", "-m", "-f", "{{.Dir}}", path], cwd=module, capture=True)
    return Path(output.strip())


def run(command: list[str], cwd: Path | None = None, capture: bool = False, static: bool = False) -> str:
    result = subprocess.run(command, cwd=cwd, env=go_environment(static), text=True,
                            stdout=subprocess.PIPE if capture else None, stderr=subprocess.PIPE if capture else None)
    if result.returncode != 0:
        raise BuildFailed(f"{' '.join(command)} failed in {cwd}:\n{(result.stderr or '')[-3000:]}")
    return result.stdout or ""
