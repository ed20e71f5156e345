"""`%%tune`: run the cell as a hyperparameter sweep, and `%sweeps` to list them."""
from __future__ import annotations

import os

from IPython.core.magic import cell_magic, line_magic, magics_class

from hubml.extension.display import run_by_batch_executor
from hubml.handles.sweep import Sweep
from hubml.magics.base import HubMLMagics, parse_arguments, with_options
from hubml.tuning.options import SWEEP_OPTIONS, tune_spec
from hubml.tuning.text import sweeps_table


@magics_class
class TuneMagics(HubMLMagics):
    @with_options(SWEEP_OPTIONS)
    @cell_magic
    def tune(self, line: str, cell: str) -> Sweep:
        """Run the cell once per trial, with each trial's parameters bound as variables; return the `Sweep`.

        By default the cell waits, printing each trial's progress; interrupting it
        cancels the sweep. With `--detach` it returns at once (not under papermill
        or nbconvert, where the cell always waits, and fails if the sweep fails).
        """
        args = parse_arguments(self.tune, line)
        spec = tune_spec(args, cell, self.default_name(), source_dir=os.getcwd())
        sweep = self.client(args.backend).tune(spec)
        print(f"Started sweep {sweep.id}: {spec.budget} trials, {spec.parallel} at a time, {spec.algorithm} "
              f"search, early stopping {spec.early_stopping}, {spec.direction} {spec.objective}")
        if args.detach and not run_by_batch_executor():
            return sweep
        try:
            return sweep.follow()
        except KeyboardInterrupt:
            sweep.cancel()
            print(f"Interrupted: cancelled sweep {sweep.id} ({sweep.state}).")
            return sweep

    @line_magic
    def sweeps(self, line: str = "") -> None:
        """Show a table of sweeps."""
        print(sweeps_table([sweep.record for sweep in self.client().sweeps()]))
