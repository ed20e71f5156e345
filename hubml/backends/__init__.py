"""The backend registry: a name -> a `Backend` class, imported on first use.

Built-ins register exactly as plug-ins do, through the `hubml.backends` entry
point group (see setup.py); `register()` adds one at run time.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hubml.backends.base import Backend

_registry: dict[str, str | type] = {}


def register(name: str, implementation: str | type) -> None:
    """Register a backend class, or a dotted 'module:Class' path imported when first used."""
    _registry[name] = implementation


def available() -> list[str]:
    _load_entry_points()
    return sorted(_registry)


def get(name: str) -> type[Backend]:
    from hubml.exceptions import InvalidArgument

    _load_entry_points()
    if name not in _registry:
        raise InvalidArgument("--backend", f"unknown backend {name!r}; available: {', '.join(available())}")
    implementation = _registry[name]
    if isinstance(implementation, str):
        module_name, _, attribute = implementation.partition(":")
        try:
            implementation = getattr(importlib.import_module(module_name), attribute)
        except ImportError as error:  # an optional dependency missing: say which
            raise InvalidArgument("--backend", f"backend {name!r} cannot be imported ({error}); "
                                  f"install its dependencies, e.g. pip install 'hubml[{name}]'") from error
        _registry[name] = implementation
    return implementation


def _load_entry_points() -> None:
    from importlib.metadata import entry_points

    for entry in entry_points(group="hubml.backends"):
        _registry.setdefault(entry.name, entry.value)
