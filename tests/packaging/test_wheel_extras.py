"""hubml as a user installs it: the built wheel, one extra at a time, in a fresh virtual environment.

Each environment imports what its extra promises, holds none of the packages it
must not pull in, and, where a part needs an extra it lacks, says which
`pip install 'hubml[...]'` fixes it. setup.py's EXTRAS (distributions) and
hubml/extras.py's PROVIDES (their modules) are checked against each other here.

The wheel is built once (`uv build`); each environment is `uv venv` and
`uv pip install 'hubml-...whl[extra]'` under requirements/constraints.txt, from
uv's cache with hard links, so even TensorFlow's costs seconds, not a copy.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).parent / "uv"
CONSTRAINTS = REPO / "requirements" / "constraints.txt"
EXTRAS = ("tensorflow", "serve", "tune", "kubernetes", "hub", "lab", "all")

# Run first in every probe: `absent(*modules)` fails naming any of them that is installed.
PREAMBLE = """
import importlib.util, json, sys
from hubml import extras

def absent(*modules):
    present = [module for module in modules if importlib.util.find_spec(module) is not None]
    assert not present, f"installed, and must not be: {present}"
"""


class Environment:
    """A fresh virtual environment holding the wheel with one extra (or none: the core)."""

    def __init__(self, folder: Path, wheel: Path, extra: str | None):
        self.folder, self.home = folder / "venv", folder / "hubml-home"
        self.python = self.folder / "bin" / "python"
        subprocess.run([str(UV), "venv", "--quiet", "--python", sys.executable, str(self.folder)], check=True)
        requirement = f"{wheel}[{extra}]" if extra else str(wheel)
        subprocess.run([str(UV), "pip", "install", "--quiet", "--python", str(self.python), "--link-mode=hardlink",
                        "-c", str(CONSTRAINTS), requirement], check=True, timeout=600)

    def run(self, *command: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 180) \
            -> subprocess.CompletedProcess:
        """A command of this environment, away from the repository (its source must not shadow the wheel's)."""
        clean = {"PATH": f"{self.folder / 'bin'}:{os.environ['PATH']}", "HOME": os.environ.get("HOME", "/root"),
                 "HUBML_HOME": str(self.home), **(env or {})}
        return subprocess.run(list(command), cwd=cwd or self.folder, env=clean, capture_output=True, text=True,
                              timeout=timeout)

    def probe(self, code: str, **kwargs) -> dict:
        """Run `code` after PREAMBLE in this environment's Python; it ends by printing one JSON object."""
        result = self.run(str(self.python), "-c", PREAMBLE + textwrap.dedent(code), **kwargs)
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([str(UV), "build", "--wheel", "--quiet", "--out-dir", str(out), str(REPO)], check=True, timeout=300)
    (built,) = out.glob("hubml-*.whl")
    return built


@pytest.fixture(scope="session")
def environment(wheel, tmp_path_factory):
    """environment(extra) -> the `Environment` with that extra, made once per session."""
    made: dict[str | None, Environment] = {}

    def make(extra: str | None) -> Environment:
        if extra not in made:
            made[extra] = Environment(tmp_path_factory.mktemp(f"extra-{extra or 'core'}"), wheel, extra)
        return made[extra]

    return make


def test_the_wheels_extras_are_the_ones_hubml_names(wheel):
    from hubml.extras import PROVIDES

    with zipfile.ZipFile(wheel) as archive:
        metadata = next(archive.read(name).decode() for name in archive.namelist()
                        if name.endswith(".dist-info/METADATA"))
    provided = {line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Provides-Extra:")}
    assert provided == {*PROVIDES, "all"} == set(EXTRAS)


def test_the_core_runs_a_job_with_its_magics_and_cli_and_no_extra_installed(environment, tmp_path):
    core = environment(None)
    probed = core.probe("""
        import hubml, hubml.cli, hubml.client, hubml.runtime, hubml.backends.local.backend, hubml.batch
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "hubml")
        absent(*{module for modules in extras.PROVIDES.values() for module in modules}, "keras")
        hints = {}
        for part, use in [("keras", lambda: hubml.keras), ("kubernetes", lambda: hubml.Client(backend="kubernetes")),
                          ("tune", lambda: hubml.Client().tune(None))]:
            try:
                use()
            except ImportError as error:
                hints[part] = str(error)
        print(json.dumps({"missing": {extra: extras.missing(extra) for extra in extras.PROVIDES},
                          "magics": sorted(shell.magics_manager.magics["line"]), "hints": hints}))
    """)
    from hubml.extras import PROVIDES

    assert probed["missing"] == {extra: list(modules) for extra, modules in PROVIDES.items()}
    assert {"jobs", "logs", "cancel", "deploy"} <= set(probed["magics"])
    assert probed["hints"] == {
        "keras": "hubml.keras needs tensorflow, tf_keras, tensorboard, which are not installed: "
                 "pip install 'hubml[tensorflow]'",
        "kubernetes": "the kubernetes backend needs kubernetes, which is not installed: pip install 'hubml[kubernetes]'",
        "tune": "a sweep needs optuna, pandas, matplotlib, which are not installed: pip install 'hubml[tune]'",
    }
    (tmp_path / "job.py").write_text("import hubml\nhubml.report(step=1, loss=0.5)\nprint('trained without TensorFlow')\n")
    submitted = core.run("hubml", "jobs", "submit", "job.py", "--name", "core", cwd=tmp_path)
    assert submitted.returncode == 0 and "[worker-0] trained without TensorFlow" in submitted.stdout, submitted.stderr
    serve = core.run("hubml", "serve", "--model_base_path", str(tmp_path), "--model_name", "m")
    assert serve.returncode == 1
    assert "hubml serve needs tensorflow, tensorflow_serving, grpc" in serve.stderr
    assert "pip install 'hubml[serve]'" in serve.stderr


def test_tensorflow_gives_hubml_keras_after_a_plain_import(environment):
    probed = environment("tensorflow").probe("""
        import hubml
        callback = hubml.keras.ReportCallback()
        absent("jupyterhub", "kubespawner", "optuna", "kubernetes", "tensorflow_serving", "jupyterlab")
        print(json.dumps({"callback": type(callback).__name__, "missing": extras.missing("tensorflow")}))
    """)
    assert probed == {"callback": "ReportCallback", "missing": []}


def test_serve_gives_hubml_serve_and_the_predict_clients_grpc(environment):
    serve = environment("serve")
    probed = serve.probe("""
        import hubml.serving.server, hubml.serving.grpc_service
        from hubml.serving.client import PredictClient
        stubs = PredictClient("127.0.0.1:1", None, "m")._grpc_stubs()  # TF Serving's stubs on a channel; no call
        absent("jupyterhub", "kubespawner", "optuna", "kubernetes", "jupyterlab")
        print(json.dumps({"stubs": sorted(stubs), "missing": extras.missing("serve")}))
    """)
    assert probed == {"stubs": ["model", "prediction"], "missing": []}
    assert serve.run("hubml", "serve", "--help").returncode == 0


def test_tune_gives_sweeps_without_tensorflow(environment):
    probed = environment("tune").probe("""
        import hubml.tuning.driver, hubml.tuning.plot
        absent("tensorflow", "jupyterhub", "kubernetes")
        print(json.dumps({"missing": extras.missing("tune")}))
    """)
    assert probed == {"missing": []}


def test_kubernetes_gives_the_backend_without_tensorflow(environment):
    probed = environment("kubernetes").probe("""
        from hubml import backends
        backend = backends.get("kubernetes")
        absent("tensorflow", "jupyterhub", "optuna")
        print(json.dumps({"backend": backend.__name__, "missing": extras.missing("kubernetes")}))
    """)
    assert probed == {"backend": "KubernetesBackend", "missing": []}


def test_hub_loads_the_hub_config_in_kubernetes_mode_without_tensorflow(environment, tmp_path):
    """As the chart runs it: hub_config/ mounted beside the installed wheel, KubeSpawner's profiles loaded."""
    mount = tmp_path / "hub_config"
    shutil.copytree(REPO / "hub_config", mount, ignore=shutil.ignore_patterns("node_modules", "__pycache__"))
    env = {"HUBML_HUB_MODE": "kubernetes", "HUBML_HUB_PASSWORD": "a-long-shared-password", "POD_NAMESPACE": "hubml",
           "HUBML_PROFILES": str(REPO / "spawner_profiles" / "profiles.yaml")}
    probed = environment("hub").probe(f"""
        from traitlets.config.loader import PyFileConfigLoader
        c = PyFileConfigLoader("jupyterhub_config.py", path={str(mount)!r}).load_config()
        import hub_config.tenancy, jupyterhub_idle_culler
        absent("tensorflow", "optuna", "tensorflow_serving", "jupyterlab")
        print(json.dumps({{"spawner": c.JupyterHub.spawner_class, "missing": extras.missing("hub"),
                          "profiles": len(c.KubeSpawner.profile_list)}}))
    """, cwd=tmp_path, env=env)
    assert probed["spawner"] == "kubespawner.KubeSpawner" and probed["profiles"] >= 2
    assert probed["missing"] == []


def test_lab_gives_the_server_extension_and_the_proxy_without_tensorflow(environment):
    probed = environment("lab").probe("""
        import hubml.extension.server.handlers, jupyter_server_proxy
        from hubml.tensorboard import has_server_proxy
        absent("tensorflow", "optuna", "kubernetes")
        print(json.dumps({"proxy": has_server_proxy(), "missing": extras.missing("lab")}))
    """)
    assert probed == {"proxy": True, "missing": []}


def test_all_holds_every_extra(environment):
    """What each extra gives was imported above; here, that `all` installs every one of them."""
    probed = environment("all").probe("""
        print(json.dumps({extra: extras.missing(extra) for extra in extras.PROVIDES}))
    """)
    assert probed == {extra: [] for extra in EXTRAS if extra != "all"}
