"""The backend registry: a name -> a `Backend` class, imported on first use.

Built-ins register exactly as plug-ins do, through the `hubml.backends` entry
point group (see setup.py); `register()` adds one at run time. An entry point
names the extra its backend needs (`kubernetes = ...:KubernetesBackend
[kubernetes]`), so a backend whose packages are missing says which
`pip install` adds them.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from hubml.backends.base import Backend

_registry: dict[str, str | type] = {}
_install_hints: dict[str, str] = {}  # name -> the requirement that installs what the backend imports


def register(name: str, implementation: str | type, requirement: str = "") -> None:
    """Register a backend class, or a dotted 'module:Class' path imported when first used; `requirement`
    (e.g. "hubml[kubernetes]") is what installs its dependencies."""
    _registry[name] = implementation
    if requirement:
        _install_hints[name] = requirement


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
        except ModuleNotFoundError as error:  # an optional dependency missing: say which install adds it
            from hubml.exceptions import MissingExtra

            requirement = _install_hints.get(name) or (error.name or "").partition(".")[0]
            raise MissingExtra(f"the {name} backend", requirement, [error.name or str(error)]) from error
        _registry[name] = implementation
    return implementation


def _load_entry_points() -> None:
    from importlib.metadata import entry_points

    for entry in entry_points(group="hubml.backends"):
        if entry.name not in _registry:
            register(entry.name, f"{entry.module}:{entry.attr}", _requirement(entry))


def _requirement(entry: EntryPoint) -> str:
    """'dist[extra,...]' when the entry point names extras, else ''."""
    if not entry.extras or entry.dist is None:
        return ""
    return f"{entry.dist.name}[{','.join(entry.extras)}]"
