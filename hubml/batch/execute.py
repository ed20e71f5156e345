"""Inside a batch job: run the shipped notebook with papermill and save the output notebook to storage.

The job's code (written by `hubml.batch.submit`) is one call to `run`. The
output notebook is saved even when a cell fails (papermill adds its error
banner above the failing cell); the job then fails with that cell's error.
"""
from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile

from hubml import storage

OUTPUT_NAME = "output.ipynb"
DEFAULT_KERNEL = "python3"
# The kernel loads hubml's magics itself (as a hub's notebook server does), and handles print as text:
# a widget saved into a batch run's output would be dead. Loaded as `hubml.extension` (the same hook), so a
# notebook's own `%load_ext hubml` loads it again quietly instead of printing "already loaded".
KERNEL_ARGUMENTS = ["--ext=hubml.extension"]
PLAIN_ENV = "HUBML_PLAIN"
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def run(notebook: str, output: str | None = None, kernel: str = DEFAULT_KERNEL) -> None:
    """Execute `notebook` (a path in the bundle) with the job's hyperparameters as papermill parameters.

    `{job}` in `output` stands for the job id, so each run of a schedule keeps its own output.
    """
    target = (output or storage.join(os.environ["HUBML_JOB_URL"], OUTPUT_NAME)).replace(
        "{job}", os.environ["HUBML_JOB_ID"])
    parameters = json.loads(os.environ.get("HUBML_HPARAMS") or "{}")
    written = local_output(target)
    print(f"[hubml] running {notebook} with papermill, parameters {parameters}; output notebook: {target}",
          flush=True)
    try:
        execute(notebook, written, parameters, kernel)
    except Exception as error:
        saved = save(written, target)
        describe_failure(error, target if saved else None)
        raise SystemExit(1) from None
    save(written, target)
    print(f"[hubml] the notebook ran to the end; output notebook: {target}", flush=True)


def execute(notebook: str, written: str, parameters: dict, kernel: str) -> None:
    import papermill

    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s", force=True)
    logging.getLogger().handlers[0].addFilter(one_line_per_line)
    os.environ[PLAIN_ENV] = "1"
    # Jobs the notebook submits (%%train) are named after it, as in an interactive session.
    os.environ.setdefault("JPY_SESSION_NAME", os.path.abspath(notebook))
    papermill.execute_notebook(notebook, written, parameters=parameters, kernel_name=kernel,
                               cwd=os.path.dirname(os.path.abspath(notebook)), log_output=True,
                               progress_bar=False, extra_arguments=KERNEL_ARGUMENTS)


def one_line_per_line(record: logging.LogRecord) -> bool:
    """papermill logs each output chunk with its own newline: without this, a blank line after every line."""
    record.msg = str(record.msg).rstrip("\n")
    record.args = None
    return bool(record.msg.strip())


def local_output(target: str) -> str:
    """Where papermill writes: the target itself on file:// (so it grows cell by cell), else a scratch file."""
    if storage.is_local(target):
        path = storage.local_path(target)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        return path
    return os.path.join(tempfile.mkdtemp(prefix="hubml-batch-"), OUTPUT_NAME)


def save(written: str, target: str) -> bool:
    """Upload the output notebook to object storage (on file:// it is already there); False if none was written."""
    if not os.path.exists(written):
        return False
    if not storage.is_local(target):
        with open(written) as handle:
            storage.write_text(target, handle.read())
    return True


def describe_failure(error: Exception, saved_at: str | None) -> None:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(error, PapermillExecutionError):
        print(f"[hubml] cell {error.cell_index} (execution count {error.exec_count}) raised "
              f"{error.ename}: {error.evalue}", file=sys.stderr)
        print(ANSI_ESCAPE.sub("", "\n".join(line.rstrip("\n") for line in error.traceback)), file=sys.stderr)
    else:
        print(f"[hubml] papermill could not run the notebook: {type(error).__name__}: {error}", file=sys.stderr)
    if saved_at:
        print(f"[hubml] the output notebook, with papermill's error banner, is at {saved_at}", file=sys.stderr)
    sys.stderr.flush()
