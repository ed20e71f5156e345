"""Build what the cluster runs from published sources, once per pinned version.

Each folder under cluster/components/ is a small Go module that pins one
upstream release (its go.mod) and has a `cmd/` per binary. Its binaries land in
`~/.cache/hubml-cluster/bin/<module>-<versions>-<hash>/`, named by the versions
its go.mod pins and a hash of its sources, so a second build of the same
versions is a lookup. The pause container's binary is upstream's `pause.c` from
the same k8s.io/kubernetes module, compiled static.
"""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
import time
from pathlib import Path

from cluster import layout

COMPONENTS = layout.REPO / "cluster" / "components"
# Versions named in a binary folder's name, so the cache reads like a list of what was built.
NAMED_MODULES = ("k8s.io/kubernetes", "github.com/coredns/coredns", "helm.sh/helm/v3",
                 "sigs.k8s.io/kube-network-policies", "github.com/rancher/local-path-provisioner")


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


def binary_folder(name: str) -> Path:
    module = COMPONENTS / name
    digest = hashlib.sha256()
    for path in sorted(module.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(module)).encode() + b"\0" + path.read_bytes())
    versions = "-".join(version for _, version in sorted(pinned_versions(module).items()))
    return layout.CACHE / "bin" / f"{name}-{versions}-{digest.hexdigest()[:10]}"


def binaries(name: str) -> Path:
    """The folder holding module `name`'s binaries, built first if missing."""
    folder = binary_folder(name)
    if (folder / ".complete").exists():
        return folder
    module = COMPONENTS / name
    partial = folder.with_name(folder.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    print(f"cluster: building {name} ({', '.join(f'{p} {v}' for p, v in pinned_versions(module).items())}); "
          "a cold build takes many minutes on two cores", flush=True)
    run(["go", "build", "-trimpath", "-ldflags=-s -w", "-o", f"{partial}/", "./cmd/..."], cwd=module,
        static=name in STATIC)
    (partial / ".complete").write_text(f"{time.monotonic() - started:.0f} s\n")
    partial.rename(folder)
    print(f"cluster: built {name} in {time.monotonic() - started:.0f} s", flush=True)
    return folder


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
