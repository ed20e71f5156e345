"""`import hubml` as a user meets it: submodules on attribute access, nothing heavy imported, and a missing
extra named with the `pip install` that adds it (tests/packaging checks the same on installed wheels)."""
import pickle
import subprocess
import sys

import pytest

from hubml.exceptions import HubMLError, MissingExtra


def run_python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          timeout=180).stdout.strip()


def test_hubml_keras_works_after_a_plain_import_hubml():
    printed = run_python("import sys, hubml\n"
                         "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
                         "callback = hubml.keras.ReportCallback()\n"
                         "print(type(callback).__name__, hubml.zoo.recipe('small-cnn').name, 'keras' in dir(hubml))")
    assert printed == "ReportCallback small-cnn True"


def test_an_unknown_attribute_is_still_an_attribute_error():
    import hubml

    with pytest.raises(AttributeError, match="module 'hubml' has no attribute 'kears'"):
        hubml.kears  # noqa: B018


def test_the_client_cli_and_local_backend_import_no_optional_package():
    printed = run_python(
        "import sys, hubml, hubml.client, hubml.cli, hubml.backends.local.backend, hubml.runtime.contract\n"
        "hubml.cli.build_parser(); hubml.Client()\n"
        "heavy = ('tensorflow', 'keras', 'jupyterhub', 'kubespawner', 'kubernetes', 'grpc', 'optuna', 'pandas')\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in heavy))")
    assert printed == "[]"


def test_a_missing_extra_names_the_pip_install_that_adds_it(monkeypatch):
    from hubml.extras import require

    monkeypatch.setitem(sys.modules, "optuna", None)  # as if it were not installed
    with pytest.raises(MissingExtra) as error:
        require("tune", "a sweep")
    assert str(error.value) == "a sweep needs optuna, which is not installed: pip install 'hubml[tune]'"
    assert isinstance(error.value, ImportError) and isinstance(error.value, HubMLError)
    assert str(pickle.loads(pickle.dumps(error.value))) == str(error.value)


def test_a_backend_whose_extra_is_missing_names_it(monkeypatch):
    from hubml import backends

    backends.available()  # the entry points, with the extra each backend needs
    monkeypatch.setitem(backends._registry, "kubernetes", "hubml.backends.kubernetes.backend:KubernetesBackend")
    monkeypatch.delitem(sys.modules, "hubml.backends.kubernetes.backend", raising=False)
    monkeypatch.setitem(sys.modules, "kubernetes", None)
    with pytest.raises(MissingExtra) as error:
        backends.get("kubernetes")
    assert "pip install 'hubml[kubernetes]'" in str(error.value)
