"""hubml: train and serve deep-learning models from Jupyter.

    %load_ext hubml
    %%train --workers 2
    ...

The public API is re-exported here lazily, so `import hubml` inside a training
job (for `hubml.report`) does not import the client, IPython or TensorFlow.
Submodules load on first attribute access too, as `tf.keras` and `scipy.stats`
do: `hubml.keras.ReportCallback()` works after a plain `import hubml`.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "Client": "hubml.client",
    "TrainSpec": "hubml.specs",
    "DeploySpec": "hubml.specs",
    "TuneSpec": "hubml.tuning.spec",
    "Resources": "hubml.specs",
    "Job": "hubml.handles",
    "Endpoint": "hubml.handles",
    "report": "hubml.reporting",
}
_SUBMODULES = frozenset({"backends", "batch", "client", "extension", "keras", "magics", "serving", "storage",
                         "tensorboard", "tuning", "zoo"})


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"hubml.{name}")
    raise AttributeError(f"module 'hubml' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *_SUBMODULES})


def load_ipython_extension(ipython) -> None:
    """`%load_ext hubml`: register the magics (and widgets, when ipywidgets is there)."""
    from hubml.extension import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython) -> None:
    from hubml.extension import unload_ipython_extension as unload

    unload(ipython)
