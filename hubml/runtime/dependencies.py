"""What a job needs installed: its `requirements.txt` and, for a package job, the project's declared dependencies.

A trainer package declares what it needs as any Python project does, and the
job installs it into its own cached environment (`hubml.runtime.environment`):

- `pyproject.toml`: `[project] dependencies = [...]`
- `setup.cfg`: `[options] install_requires = ...`
- `setup.py`: `setup(install_requires=[...])`, a literal list or a module-level
  name bound to one (`REQUIRED_PACKAGES = [...]`, as Cloud-ML trainer packages write it)

These are read without running the project's code. A project whose
dependencies are computed (`dynamic = ["dependencies"]`, or a setup.py that
builds the list) is installed itself (`pip install ./project`), which runs its
build backend.
"""
from __future__ import annotations

import ast
import configparser
import hashlib
import os

COMBINED_NAME = "requirements-all.txt"
METADATA_FILES = ("pyproject.toml", "setup.cfg", "setup.py")


class NotStatic(Exception):
    """The project computes its dependencies: only its build backend can list them."""


def requirements_file(bundle: str, spec: dict) -> str | None:
    """A requirements file with everything the job installs (None if nothing), written into the bundle if combined."""
    own = os.path.join(bundle, "requirements.txt")
    project = os.path.join(bundle, "project")
    declared = project_requirements(project) if spec.get("module") and os.path.isdir(project) else []
    if not declared:
        return own if os.path.exists(own) else None
    lines = [f"# dependencies declared by the job's project ({', '.join(present_metadata(project))})", *declared]
    if os.path.exists(own):
        with open(own) as handle:
            lines = [handle.read().rstrip("\n"), *lines]
    combined = os.path.join(bundle, COMBINED_NAME)
    with open(combined, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return combined


def project_requirements(project: str) -> list[str]:
    """Requirement lines for a project folder: its declared dependencies, or the project itself if computed."""
    try:
        return declared_dependencies(project)
    except NotStatic as reason:
        print(f"[hubml] {reason}: installing the project itself to get them", flush=True)
        # The digest keeps the environment cache from reusing another project's environment.
        return [f"# project metadata sha256 {metadata_digest(project)}", "./project"]


def declared_dependencies(project: str) -> list[str]:
    pyproject = os.path.join(project, "pyproject.toml")
    if os.path.isfile(pyproject):
        try:
            import tomllib
        except ImportError:  # Python 3.10 in a bring-your-own image
            raise NotStatic("reading pyproject.toml takes Python 3.11 or newer") from None
        with open(pyproject, "rb") as handle:
            table = tomllib.load(handle).get("project", {})
        if "dependencies" in table.get("dynamic", []):
            raise NotStatic("pyproject.toml declares its dependencies dynamic")
        if "dependencies" in table or not os.path.isfile(os.path.join(project, "setup.py")):
            return list(table.get("dependencies", []))
    setup_cfg = os.path.join(project, "setup.cfg")
    if os.path.isfile(setup_cfg):
        parser = configparser.ConfigParser()
        parser.read(setup_cfg)
        if parser.has_option("options", "install_requires"):
            return [line.strip() for line in parser.get("options", "install_requires").splitlines() if line.strip()]
    setup_py = os.path.join(project, "setup.py")
    if os.path.isfile(setup_py):
        with open(setup_py) as handle:
            return setup_py_requirements(handle.read())
    return []


def setup_py_requirements(source: str) -> list[str]:
    """`install_requires` of the `setup(...)` call, when it is a literal or a module-level name bound to one."""
    tree = ast.parse(source)
    assigned = {target.id: node.value for node in tree.body if isinstance(node, ast.Assign)
                for target in node.targets if isinstance(target, ast.Name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "setup":
            for keyword in node.keywords:
                if keyword.arg == "install_requires":
                    value = assigned.get(keyword.value.id, keyword.value) if isinstance(keyword.value, ast.Name) \
                        else keyword.value
                    try:
                        return list(ast.literal_eval(value))
                    except ValueError:
                        raise NotStatic("setup.py computes install_requires") from None
    return []


def present_metadata(project: str) -> list[str]:
    return [name for name in METADATA_FILES if os.path.isfile(os.path.join(project, name))]


def metadata_digest(project: str) -> str:
    digest = hashlib.sha256()
    for name in present_metadata(project):
        with open(os.path.join(project, name), "rb") as handle:
            digest.update(handle.read())
    return digest.hexdigest()[:16]
