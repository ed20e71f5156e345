"""How a handle shows itself: a live widget in a notebook, plain text everywhere else.

The handles' `_repr_mimebundle_` calls `mimebundle(handle)`. A widget is only
worth building where a person's frontend will render it and keep talking to
it: in a Jupyter kernel, not in terminal IPython, and not under a batch
executor (papermill, `jupyter nbconvert --execute`), whose saved notebook
would hold a dead widget and whose kernel would keep polling for nobody.
`HUBML_PLAIN=1` asks for plain text anywhere (e.g. `hubml run` sets it for
the notebooks it executes).
"""
from __future__ import annotations

import functools
import os
import re
from typing import Any

PLAIN_ENV = "HUBML_PLAIN"
BATCH_EXECUTORS = ("papermill", "nbconvert", "nbclient")
ANCESTORS_CHECKED = 4
SHOWN_LIVE_IN = "_hubml_shown_live_in"


def mimebundle(handle: Any) -> dict[str, Any]:
    text = {"text/plain": repr(handle)}
    if not live_frontend() or getattr(handle, SHOWN_LIVE_IN, None) == execution_count():
        return text  # a cell that already showed this handle's widget as it ran ends with its summary line
    from hubml.extension.widgets import widget_for

    return {**widget_for(handle)._repr_mimebundle_(), **text}


def show_live(handle: Any) -> Any:
    """Display the handle's widget now, while the cell goes on to wait, and return it: it updates itself
    from its polling thread (ipykernel sends widget state from any thread), so it is live while the cell blocks."""
    from IPython.display import display

    from hubml.extension.widgets import widget_for

    widget = widget_for(handle)
    display(widget)
    setattr(handle, SHOWN_LIVE_IN, execution_count())
    return widget


def execution_count() -> int | None:
    from IPython import get_ipython

    shell = get_ipython()
    return shell.execution_count if shell is not None else None


def live_frontend() -> bool:
    """True inside a Jupyter kernel that a person's frontend drives, with ipywidgets installed."""
    if os.environ.get(PLAIN_ENV, "").lower() in ("1", "true", "yes"):
        return False
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return not run_by_batch_executor()


@functools.lru_cache(maxsize=1)
def run_by_batch_executor() -> bool:
    """A batch executor starts the kernel as its own child: look for one among this process's ancestors.

    Papermill sets no environment variable a kernel could read, so its command
    line is what gives it away (on systems without /proc, nothing does).
    """
    pid = os.getppid()
    for _ in range(ANCESTORS_CHECKED):
        words = command_line(pid)
        # `papermill ...`, `python -m papermill`, `jupyter-nbconvert --execute`, `python -m nbclient`
        if any(part in BATCH_EXECUTORS for word in words for part in re.split(r"[-.]", os.path.basename(word))):
            return True
        pid = parent_of(pid)
        if pid <= 1:
            return False
    return False


def command_line(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().decode(errors="replace").split("\0")
    except OSError:
        return []


def parent_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0
