"""What every hubml magic class shares: a configurable `Client` per backend, and the notebook's name."""
from __future__ import annotations

import argparse
import itertools
import os
from typing import Callable

from IPython.core import magic_arguments
from IPython.core.error import UsageError
from IPython.core.magic import Magics, magics_class

from hubml.client import Client
from hubml.options import Option, option_strings, with_suggestion
from hubml.specs import slugify


def parse_arguments(magic: Callable, line: str) -> argparse.Namespace:
    """`parse_argstring`, with an unbalanced quote a `UsageError` like any other bad argument
    (it splits the line with shlex, whose ValueError would otherwise show as a traceback), and an
    unknown option answered with the closest known one."""
    try:
        return magic_arguments.parse_argstring(magic, line)
    except UsageError as error:
        raise UsageError(with_suggestion(str(error), option_strings(magic.parser))) from None
    except ValueError as error:
        raise UsageError(f"cannot split the arguments: {error} in {line!r}") from None


def with_options(options: list[Option]) -> Callable:
    """`@magic_arguments` with a shared option list, in the order it is declared."""
    def decorate(function: Callable) -> Callable:
        for option in reversed(options):
            function = magic_arguments.argument(*option.flags, **option.kwargs)(function)
        return magic_arguments.magic_arguments()(function)
    return decorate


@magics_class
class HubMLMagics(Magics):
    def __init__(self, shell=None):
        super().__init__(shell=shell)
        self._clients: dict[str | None, Client] = {}
        self._counter = itertools.count(1)

    def client(self, backend: str | None = None) -> Client:
        if backend not in self._clients:
            self._clients[backend] = Client(backend, config=self.shell.config if self.shell else None)
        return self._clients[backend]

    def default_name(self) -> str:
        """`<notebook>-<n>`: the notebook's file name when the kernel knows it, then a counter."""
        path = os.environ.get("JPY_SESSION_NAME") or (self.shell.user_ns.get("__session__") if self.shell else None)
        stem = os.path.splitext(os.path.basename(path))[0] if path else "notebook"
        return f"{slugify(stem)}-{next(self._counter)}"
