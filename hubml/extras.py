"""hubml's extras: what each one lets Python import, and the error that says which one is missing.

The core (`pip install hubml`: the client, magics, widgets, CLI, local backend,
job runtime, batch runs, the predict client over REST) imports none of these.
A part that needs an extra calls `require(extra, feature)` before importing
it, so a user reads which `pip install 'hubml[...]'` fixes it instead of a bare
`ModuleNotFoundError`. setup.py's `EXTRAS` lists the distributions;
tests/packaging installs each extra from a built wheel and checks the two agree.
"""
from __future__ import annotations

import importlib.util

# extra -> the top-level modules its distributions install
PROVIDES: dict[str, tuple[str, ...]] = {
    "tensorflow": ("tensorflow", "tf_keras", "tensorboard"),
    "serve": ("tensorflow", "tensorflow_serving", "grpc", "simdjson", "prometheus_client", "uvloop", "httptools"),
    "tune": ("optuna", "pandas", "matplotlib"),
    "kubernetes": ("kubernetes",),
    "hub": ("jupyterhub", "kubespawner", "jupyterhub_idle_culler", "oauthenticator"),
    "lab": ("jupyterlab", "jupyter_server", "jupyter_server_proxy"),
}


def missing(extra: str) -> list[str]:
    """The modules of `extra` that cannot be imported here (none: the extra is installed)."""
    return [module for module in PROVIDES[extra] if importlib.util.find_spec(module) is None]


def require(extra: str, feature: str) -> None:
    """Raise `MissingExtra` naming `pip install 'hubml[extra]'` unless `extra` is installed."""
    absent = missing(extra)
    if absent:
        from hubml.exceptions import MissingExtra

        raise MissingExtra(feature, f"hubml[{extra}]", absent)
