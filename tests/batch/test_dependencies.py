"""Job dependencies: requirements that fail to install, and a trainer package's declared dependencies."""
from __future__ import annotations

import base64
import hashlib
import zipfile

import pytest

from hubml.runtime.dependencies import NotStatic, declared_dependencies, setup_py_requirements


def make_wheel(folder, name: str, version: str, module_source: str) -> str:
    """A pure-Python wheel built by hand (zip + dist-info with a correct RECORD): installable offline."""
    dist = f"{name}-{version}"
    files = {f"{name}.py": module_source,
             f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: hubml-tests\nRoot-Is-Purelib: true\n"
                                        "Tag: py3-none-any\n"}
    record = [f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()}"
              f",{len(text.encode())}" for path, text in files.items()]
    files[f"{dist}.dist-info/RECORD"] = "\n".join(record + [f"{dist}.dist-info/RECORD,,"]) + "\n"
    path = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name_in_zip, text in files.items():
            archive.writestr(name_in_zip, text)
    return str(path)


def test_a_requirement_that_fails_to_install_fails_the_job_before_its_code_runs(client, tmp_path):
    (tmp_path / "requirements.txt").write_text("hubml-no-such-dist @ file:///nonexistent/hubml-no-such-dist\n")
    job = client.train("print('training started')", name="bad-reqs", requirements="requirements.txt")
    job.wait(timeout=120, raise_on_failure=False)
    log = job.log_tail(40)
    assert job.state == "FAILED" and job.record.exit_code == 3
    assert "/nonexistent/hubml-no-such-dist" in log  # pip's (uv's) own message, in the job's log
    assert "installing requirements.txt failed" in log and "training started" not in log


def test_a_trainer_package_gets_its_declared_dependency_installed(client, tmp_path):
    wheel = make_wheel(tmp_path, "hubml_tinydep", "0.1", "def greet():\n    return 'hello from a dependency'\n")
    project = tmp_path / "trainer-project"
    (project / "src" / "trainer").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "trainer"\nversion = "0.1"\n'
        f'dependencies = ["hubml_tinydep @ file://{wheel}"]\n')
    (project / "src" / "trainer" / "__init__.py").write_text("")
    (project / "src" / "trainer" / "task.py").write_text(
        "import hubml_tinydep\nprint(hubml_tinydep.greet(), 'in', __name__)\n")
    job = client.train(None, name="pkg-deps", package=str(project), module="trainer.task").wait(timeout=180)
    log = job.log_tail(40)
    assert "hello from a dependency in __main__" in log
    assert "installing requirements-all.txt into environment" in log


SETUP_PY = """
from setuptools import find_packages, setup

REQUIRED_PACKAGES = ['tensorflow-datasets>=4', 'pillow']
setup(name='trainer', version='0.1', packages=find_packages(), install_requires=REQUIRED_PACKAGES)
"""


def test_declared_dependencies_are_read_without_running_the_project(tmp_path):
    assert setup_py_requirements(SETUP_PY) == ["tensorflow-datasets>=4", "pillow"]
    assert setup_py_requirements("import setuptools\nsetuptools.setup(install_requires=['six'])") == ["six"]
    assert setup_py_requirements("from setuptools import setup\nsetup(name='x')") == []
    with pytest.raises(NotStatic):
        setup_py_requirements("from setuptools import setup\nsetup(install_requires=open('r.txt').read().split())")
    (tmp_path / "setup.cfg").write_text("[options]\ninstall_requires =\n    numpy\n    pandas>=2\n")
    (tmp_path / "setup.py").write_text("from setuptools import setup\nsetup()\n")
    assert declared_dependencies(str(tmp_path)) == ["numpy", "pandas>=2"]
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndynamic = ["dependencies"]\n')
    with pytest.raises(NotStatic):
        declared_dependencies(str(tmp_path))


def test_a_local_package_beside_the_cell_ships_with_files(client, tmp_path):
    """A cell job imports a package from the notebook's folder once `--files` names it (hubml run ships it unasked)."""
    (tmp_path / "features").mkdir()
    (tmp_path / "features" / "__init__.py").write_text("from features.scaling import scale\n")
    (tmp_path / "features" / "scaling.py").write_text("def scale(x):\n    return x * 3\n")
    job = client.train("import features\nprint('scaled', features.scale(14))", name="local-pkg",
                       files=["features"]).wait(timeout=120)
    assert "scaled 42" in job.log_tail()
