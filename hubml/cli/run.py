"""`hubml run NOTEBOOK.ipynb -p NAME VALUE ... [--output URL] [--schedule CRON]`: a notebook as a batch job."""
from __future__ import annotations

import argparse

from hubml import storage
from hubml.batch.execute import DEFAULT_KERNEL, OUTPUT_NAME
from hubml.batch.submit import default_name, notebook_spec, output_url, schedule_spec
from hubml.client import Client
from hubml.options import TRAIN_OPTIONS, add_options, train_spec
from hubml.specs import parse_hparam

# A notebook runs in one kernel on one replica, its parameters come from -p: these job options do not apply.
NOT_FOR_NOTEBOOKS = {"--package", "--module", "--hparam", "--zoo", "--workers", "--ps", "--chief",
                     "--no-legacy-keras"}
RUN_OPTIONS = [option for option in TRAIN_OPTIONS if option.flags[0] not in NOT_FOR_NOTEBOOKS]


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser(
        "run", help="run a notebook with papermill as a job",
        description="Run a notebook with papermill as a job, with the same resource options as %%train. The "
                    "output notebook is saved to storage even when a cell fails (with papermill's error banner); "
                    "the job then fails.")
    run.add_argument("notebook", metavar="NOTEBOOK", help="the .ipynb file to run")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="a papermill parameter (repeatable); values are Python literals, else strings")
    run.add_argument("--output", metavar="URL",
                     help=f"where the output notebook goes; {{job}} stands for the job id "
                          f"(default: {{storage}}/jobs/{{job}}/{OUTPUT_NAME})")
    run.add_argument("--kernel", default=DEFAULT_KERNEL, help=f"kernel to run it with (default {DEFAULT_KERNEL})")
    run.add_argument("--schedule", metavar="CRON",
                     help="run on this cron schedule, e.g. '0 6 * * *' (a Kubernetes CronJob) instead of now")
    add_options(run.add_argument, RUN_OPTIONS)
    run.set_defaults(func=run_notebook, hparam=[], package=None, module=None, workers=1, ps=0, chief=False,
                     no_legacy_keras=False)


def run_notebook(args: argparse.Namespace) -> int:
    parameters = dict(parse_hparam(f"{name}={value}", "-p") for name, value in args.parameter)
    base = train_spec(args, None, default_name(args.notebook))
    spec = notebook_spec(args.notebook, parameters, output=args.output, kernel=args.kernel, base=base)
    client = Client(args.backend)
    if args.schedule:
        cron_job = schedule_spec(client, spec, args.schedule)
        print(f"Scheduled {cron_job['metadata']['name']} ({args.schedule}); each run saves its output notebook "
              f"to {args.output or storage.join(client.settings.storage, 'jobs', '<run>', OUTPUT_NAME)}")
        return 0
    job = client.submit(spec)
    output = output_url(args.output, ".") or storage.join(client.backend.job_url(job.id), OUTPUT_NAME)
    print(f"Submitted {job.id}; output notebook: {output.replace('{job}', job.id)}", flush=True)
    # The notebook is the job's one replica: its cells' output needs no replica prefix of its own.
    return 0 if args.detach or job.follow_or_cancel(prefixed=False) else 130


