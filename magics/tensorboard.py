"""`%tensorboard --job ID` / `--sweep ID`: TensorBoard for a job or a sweep, shown in the notebook."""
from __future__ import annotations

from IPython.core import magic_arguments
from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class

from hubml.magics.base import HubMLMagics, parse_arguments
from hubml.tensorboard import TensorBoard


@magics_class
class TensorBoardMagics(HubMLMagics):
    @magic_arguments.magic_arguments()
    @magic_arguments.argument("--job", metavar="ID", help="the job whose HUBML_TENSORBOARD_DIR to show")
    @magic_arguments.argument("--sweep", metavar="ID", help="a sweep: every trial, each run named by its parameters")
    @magic_arguments.argument("--stop", action="store_true", help="stop that TensorBoard instead")
    @line_magic
    def tensorboard(self, line: str) -> TensorBoard | None:
        """Start (or find) TensorBoard for a job or sweep and show it. It keeps running after the kernel ends,
        until this Jupyter server stops or `--stop` stops it."""
        from hubml import tensorboard

        args = parse_arguments(self.tensorboard, line)
        if bool(args.job) == bool(args.sweep):
            raise UsageError("%tensorboard: give --job ID or --sweep ID")
        client = self.client()
        if args.stop:
            board = tensorboard.find(client, args.job or f"sweep-{args.sweep}")
            if board is not None:
                board.stop()
            print(f"Stopped TensorBoard for {args.job or args.sweep}" if board else "No TensorBoard is running for it")
            return None
        return tensorboard.for_job(client, args.job) if args.job else tensorboard.for_sweep(client, args.sweep)
