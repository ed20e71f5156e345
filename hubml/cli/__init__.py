"""The `hubml` command: a thin argparse front over `hubml.Client`.

Each subcommand lives in its own module beside this one and exposes
`register(subparsers)`, which adds its parser and sets `func` to a callable
taking the parsed arguments and returning an exit code.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# Subcommand modules, imported lazily so `hubml serve` never pays for the client.
COMMANDS = ["jobs", "models", "endpoints", "serve", "tune", "run", "quota", "zoo"]


def build_parser() -> argparse.ArgumentParser:
    from hubml.options import SuggestingParser

    parser = SuggestingParser(prog="hubml", description="Train and serve models from Jupyter or the terminal.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"hubml.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    from hubml.exceptions import HubMLError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except HubMLError as error:
        print(f"hubml: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
