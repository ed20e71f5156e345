"""`hubml jobs submit|list|describe|logs|cancel`."""
from __future__ import annotations

import argparse
import json
import os

from hubml.client import Client
from hubml.formatting import jobs_table
from hubml.options import TRAIN_OPTIONS, add_options, train_spec
from hubml.specs import slugify


def register(subparsers: argparse._SubParsersAction) -> None:
    jobs = subparsers.add_parser("jobs", help="submit and follow training jobs")
    actions = jobs.add_subparsers(dest="action", metavar="ACTION", required=True)

    submit = actions.add_parser("submit", help="run a script (or --package/--module) as a training job")
    submit.add_argument("script", nargs="?", help="Python file to run (omit with --package)")
    add_options(submit.add_argument, TRAIN_OPTIONS)
    submit.set_defaults(func=submit_job)

    listing = actions.add_parser("list", help="list jobs")
    listing.add_argument("--output", choices=["table", "json"], default="table")
    listing.set_defaults(func=list_jobs)

    describe = actions.add_parser("describe", help="show one job")
    describe.add_argument("job")
    describe.add_argument("--output", choices=["text", "json"], default="text")
    describe.set_defaults(func=describe_job)

    logs = actions.add_parser("logs", help="print a job's logs")
    logs.add_argument("job")
    logs.add_argument("-f", "--follow", action="store_true",
                      help="keep printing until the job ends, starting where the last follow of the job stopped")
    logs.add_argument("--from-start", action="store_true", help="with -f: start at the first line")
    logs.set_defaults(func=show_logs)

    cancel = actions.add_parser("cancel", help="cancel a job")
    cancel.add_argument("job")
    cancel.set_defaults(func=cancel_job)

    for parser in (listing, describe, logs, cancel):
        parser.add_argument("--backend", help="'local' or 'kubernetes' (default: configured)")


def submit_job(args: argparse.Namespace) -> int:
    code, name = read_source(args)
    job = Client(args.backend).submit(train_spec(args, code, name))
    print(f"Submitted {job.id}", flush=True)
    return 0 if args.detach or job.follow_or_cancel() else 130


def read_source(args: argparse.Namespace) -> tuple[str | None, str]:
    """The code (None for --package or --zoo) and a default name, from exactly one of SCRIPT, --package, --zoo."""
    from hubml.exceptions import InvalidArgument

    other_sources = [flag for flag, given in (("--package", args.package), ("--zoo", args.zoo)) if given]
    if args.script and other_sources:
        raise InvalidArgument("SCRIPT", f"give a SCRIPT or {other_sources[0]}, not both")
    if not args.script and not other_sources:
        raise InvalidArgument("SCRIPT", "give a SCRIPT to run, --package DIR --module pkg.mod, or --zoo RECIPE")
    code = None
    if args.script:
        if not os.path.isfile(args.script):
            raise InvalidArgument("SCRIPT", f"{args.script!r} is not a file")
        with open(args.script) as handle:
            code = handle.read()
    stem = args.script or args.module or args.zoo or "job"
    return code, slugify(os.path.splitext(os.path.basename(stem))[0].replace(".", "-"))


def list_jobs(args: argparse.Namespace) -> int:
    records = [job.record for job in Client(args.backend).jobs()]
    print(json.dumps([r.to_json() for r in records], indent=1) if args.output == "json" else jobs_table(records))
    return 0


def describe_job(args: argparse.Namespace) -> int:
    job = Client(args.backend).job(args.job)
    if args.output == "json":
        print(json.dumps(job.to_json(), indent=1))
        return 0
    print(repr(job))
    for key, value in job.to_json().items():
        if key != "spec":
            print(f"  {key}: {value}")
    metrics = job.metrics()
    if metrics:
        from hubml.progress import progress_line

        print(f"  last metrics: {progress_line(metrics[-1])}")
    return 0


def show_logs(args: argparse.Namespace) -> int:
    job = Client(args.backend).job(args.job)
    for line in job.logs(follow=args.follow, resume=args.follow and not args.from_start):
        print(line, flush=True)
    return 0


def cancel_job(args: argparse.Namespace) -> int:
    job = Client(args.backend).cancel(args.job)
    print(f"{job.id} {job.state}")
    return 0
