"""`%%train` and the job magics `%jobs`, `%logs`, `%cancel`."""
from __future__ import annotations

import os

from IPython.core import magic_arguments
from IPython.core.magic import line_cell_magic, line_magic, magics_class

from hubml.extension.display import live_frontend
from hubml.formatting import jobs_table
from hubml.handles.job import Job
from hubml.magics.base import HubMLMagics, parse_arguments, with_options
from hubml.options import TRAIN_OPTIONS, train_spec


@magics_class
class TrainMagics(HubMLMagics):
    @with_options(TRAIN_OPTIONS)
    @line_cell_magic
    def train(self, line: str, cell: str | None = None) -> Job:
        """Run the cell as a training job and return its `Job` handle.

        As a line magic, `%train --package DIR --module pkg.task` runs a package
        instead of a cell. By default the cell waits, showing the job's live widget (progress, curves, log
        tail) in a notebook, or printing every replica's log lines and a progress line from reported
        metrics under papermill and in a terminal; interrupting it cancels the job.
        """
        args = parse_arguments(self.train, line)
        spec = train_spec(args, cell, self.default_name(), source_dir=os.getcwd())
        job = self.client(args.backend).submit(spec)
        print(f"Submitted {job.id} ({', '.join(f'{r}:{n}' for r, n in spec.replicas.items())}) "
              f"on {job.client.settings.backend}")
        if not args.detach:
            # A person's notebook gets the live widget while the cell waits; papermill and terminals, text.
            job.follow_or_cancel(widget=live_frontend())
        return job

    @line_magic
    def jobs(self, line: str = "") -> None:
        """Show a table of jobs."""
        print(jobs_table([job.record for job in self.client().jobs()]))

    @magic_arguments.magic_arguments()
    @magic_arguments.argument("job", help="job id")
    @magic_arguments.argument("-f", "--follow", action="store_true",
                              help="keep printing until the job ends, starting where the last follow stopped "
                                   "(in this kernel or one that was restarted or killed)")
    @magic_arguments.argument("--from-start", action="store_true", help="with -f: start at the first line")
    @line_magic
    def logs(self, line: str) -> None:
        """Print a job's logs, every replica's lines prefixed with its role and index."""
        args = parse_arguments(self.logs, line)
        job = self.client().job(args.job)
        for log_line in job.logs(follow=args.follow, resume=args.follow and not args.from_start):
            print(log_line, flush=True)

    @magic_arguments.magic_arguments()
    @magic_arguments.argument("job", help="job id")
    @line_magic
    def cancel(self, line: str) -> None:
        """Cancel a job, ending every replica."""
        args = parse_arguments(self.cancel, line)
        job = self.client().cancel(args.job)
        print(f"{job.id} {job.state}")

