"""ipywidgets views of hubml's handles: `JobWidget`, `EndpointWidget`, `SweepWidget`.

`widget_for(handle)` picks the view for a handle; the modules are imported on
first use, so `import hubml.extension` never pays for ipywidgets.
"""
from __future__ import annotations

import importlib
from typing import Any

WIDGETS = {
    "Job": "hubml.extension.widgets.job:JobWidget",
    "Endpoint": "hubml.extension.widgets.endpoint:EndpointWidget",
    "Sweep": "hubml.extension.widgets.sweep:SweepWidget",
}


def widget_for(handle: Any, **options: Any) -> Any:
    """The live widget for a `Job`, `Endpoint` or `Sweep` handle."""
    kind = type(handle).__name__
    if kind not in WIDGETS:
        raise TypeError(f"hubml has no widget for {kind} objects; it has one for {', '.join(WIDGETS)}")
    module, name = WIDGETS[kind].split(":")
    return getattr(importlib.import_module(module), name)(handle, **options)
