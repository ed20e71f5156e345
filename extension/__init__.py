"""hubml's Jupyter integration, installed as `hubml.extension`.

- `%load_ext hubml` (IPython): the magics from `hubml.magics`; handles then
  display as live widgets (`hubml.extension.widgets`) where a frontend renders them.
- The Jupyter server extension (`hubml.extension.server`): the REST API under
  `/hubml/api/` that the JupyterLab sidebar uses.
- The prebuilt JupyterLab sidebar (`labextension/`, built by `make labextension`).
"""
from __future__ import annotations

import os
import sys
from typing import Any

LABEXTENSION_DIR = os.path.join(os.path.dirname(__file__), "labextension", "static")


def load_ipython_extension(ipython: Any) -> None:
    from hubml.magics import register
    from hubml.quiet_tensorflow import set_log_level

    set_log_level()  # TensorFlow imported in this kernel logs warnings and errors, not its start-up INFO lines
    register(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from hubml.magics import unregister

    unregister(ipython)
    widgets = sys.modules.get("hubml.extension.widgets.base")  # only if a widget was ever shown
    if widgets is not None:
        widgets.stop_all()


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "hubml.extension.server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The built sidebar: in the source tree for an editable install, in share/jupyter/labextensions otherwise."""
    return [{"src": LABEXTENSION_DIR, "dest": "hubml"}]
