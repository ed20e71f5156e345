"""hubml's Jupyter integration (installed as `hubml.extension`): the IPython extension."""
from __future__ import annotations

from typing import Any


def load_ipython_extension(ipython: Any) -> None:
    from hubml.magics import register

    register(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from hubml.magics import unregister

    unregister(ipython)
