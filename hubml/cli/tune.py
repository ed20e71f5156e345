"""`hubml tune submit|list|describe|cancel`: hyperparameter sweeps from the terminal."""
from __future__ import annotations

import argparse
import json
import sys

from hubml.cli.jobs import read_source
from hubml.client import Client
from hubml.options import add_options
from hubml.tuning.options import SWEEP_OPTIONS, tune_spec
from hubml.tuning.text import sweeps_table


def register(subparsers: argparse._SubParsersAction) -> None:
    tune = subparsers.add_parser("tune", help="hyperparameter sweeps: many trial jobs, searched and pruned")
    actions = tune.add_subparsers(dest="action", metavar="ACTION", required=True)

    submit = actions.add_parser("submit", help="run a script (or --package/--module, or --zoo) once per trial")
    submit.add_argument("script", nargs="?", help="Python file to run (omit with --package or --zoo)")
    add_options(submit.add_argument, SWEEP_OPTIONS)
    submit.set_defaults(func=submit_sweep)

    listing = actions.add_parser("list", help="list sweeps")
    listing.add_argument("--output", choices=["table", "json"], default="table")
    listing.set_defaults(func=list_sweeps)

    describe = actions.add_parser("describe", help="show one sweep and its trials")
    describe.add_argument("sweep")
    describe.add_argument("--output", choices=["text", "json"], default="text")
    describe.set_defaults(func=describe_sweep)

    cancel = actions.add_parser("cancel", help="cancel a sweep and its running trials")
    cancel.add_argument("sweep")
    cancel.set_defaults(func=cancel_sweep)

    for parser in (listing, describe, cancel):
        parser.add_argument("--backend", help="'local' or 'kubernetes' (default: configured)")


def submit_sweep(args: argparse.Namespace) -> int:
    code, name = read_source(args)
    sweep = Client(args.backend).tune(tune_spec(args, code, name))
    print(f"Started sweep {sweep.id}", flush=True)
    if args.detach:
        return 0
    try:
        sweep.follow()
    except KeyboardInterrupt:
        print(f"Interrupted: cancelled sweep {sweep.cancel().id} ({sweep.state}).", file=sys.stderr)
        return 130
    return 0


def list_sweeps(args: argparse.Namespace) -> int:
    sweeps = Client(args.backend).sweeps()
    if args.output == "json":
        print(json.dumps([sweep.to_json() for sweep in sweeps], indent=1))
    else:
        print(sweeps_table([sweep.record for sweep in sweeps]))
    return 0


def describe_sweep(args: argparse.Namespace) -> int:
    sweep = Client(args.backend).sweep(args.sweep)
    print(json.dumps(sweep.to_json(), indent=1) if args.output == "json" else repr(sweep))
    return 0


def cancel_sweep(args: argparse.Namespace) -> int:
    sweep = Client(args.backend).sweep(args.sweep).cancel()
    print(f"{sweep.id} {sweep.state}")
    return 0
