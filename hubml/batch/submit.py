"""What `hubml run` sends: a `TrainSpec` that runs a notebook with papermill, with the notebook in its bundle.

    spec = notebook_spec("analysis/report.ipynb", {"alpha": 0.5}, base=TrainSpec(name="report", cpu=...))

- the notebook ships at its relative path (or by its base name), with
  `--files` beside it, and runs with its own folder as working directory, as
  in Jupyter;
- local modules and packages the notebook imports from its own folder
  (`import helpers` with `helpers.py` or `helpers/__init__.py` beside it) ship
  with it, so a notebook that runs in Jupyter runs as a job;
- papermill's parameters are the job's hyperparameters, so `HUBML_HPARAMS`
  and sweeps see them as for any job.
"""
from __future__ import annotations

import ast
import dataclasses
import os
from typing import TYPE_CHECKING, Any

from hubml.batch.execute import DEFAULT_KERNEL
from hubml.bundle import shipped_name
from hubml.exceptions import InvalidArgument
from hubml.specs import Resources, TrainSpec, slugify

if TYPE_CHECKING:
    from hubml.client import Client
    from hubml.handles.job import Job

RUNNER = "from hubml.batch.execute import run\n\nrun({notebook!r}, output={output!r}, kernel={kernel!r})\n"


def notebook_spec(notebook: str, parameters: dict[str, Any] | None = None, *, output: str | None = None,
                  kernel: str = DEFAULT_KERNEL, base: TrainSpec | None = None) -> TrainSpec:
    """The job spec for a papermill run of `notebook`; `base` carries resources, files, image, retries..."""
    base = base or TrainSpec(name=default_name(notebook))
    path = os.path.join(base.source_dir, os.path.expanduser(notebook))
    cells = read_code_cells(notebook, path)
    if base.package or base.module:
        raise InvalidArgument("--package", "a batch run executes the notebook: leave --package/--module out")
    if base.replicas != {"worker": 1}:
        raise InvalidArgument("--workers", "a notebook runs in one kernel, on one replica: submit distributed "
                              "training from inside it with %%train --workers N")
    local_modules = [os.path.join(os.path.dirname(notebook), name)
                     for name in imported_local_modules(cells, os.path.dirname(path))]
    files = list(dict.fromkeys([notebook, *local_modules, *base.files]))
    code = RUNNER.format(notebook=shipped_name(notebook), output=output_url(output, base.source_dir), kernel=kernel)
    return dataclasses.replace(base, code=code, files=files, hparams={**base.hparams, **(parameters or {})})


def default_name(notebook: str) -> str:
    return slugify(os.path.splitext(os.path.basename(notebook))[0])


def read_code_cells(notebook: str, path: str) -> list[str]:
    import nbformat

    if not notebook.endswith(".ipynb"):
        raise InvalidArgument("NOTEBOOK", f"{notebook!r} is not a notebook (.ipynb)")
    if not os.path.isfile(path):
        raise InvalidArgument("NOTEBOOK", f"{notebook!r} does not exist")
    try:
        book = nbformat.read(path, as_version=4)
    except Exception as error:  # nbformat raises several kinds for unreadable files
        raise InvalidArgument("NOTEBOOK", f"{notebook!r} is not a readable notebook: {error}") from None
    return [cell.source for cell in book.cells if cell.cell_type == "code"]


def output_url(output: str | None, source_dir: str) -> str | None:
    """A local --output path becomes an absolute file:// URL: the job runs in another folder."""
    if output is None or "://" in output:
        return output
    return "file://" + os.path.abspath(os.path.join(source_dir, os.path.expanduser(output)))


def imported_local_modules(cells: list[str], folder: str) -> list[str]:
    """Names of `folder`'s own modules (`name.py`) and packages (`name/__init__.py`) that the cells import."""
    found = []
    for name in sorted(set().union(*(top_level_imports(cell) for cell in cells))):
        if os.path.isfile(os.path.join(folder, f"{name}.py")):
            found.append(f"{name}.py")
        elif os.path.isfile(os.path.join(folder, name, "__init__.py")):
            found.append(name)
    return found


def top_level_imports(cell: str) -> set[str]:
    """Top-level module names a cell imports; IPython magics and shell lines are left out before parsing."""
    python = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in cell.splitlines())
    try:
        tree = ast.parse(python)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


# --- the Python API: hubml.batch.submit / hubml.batch.schedule --------------------------------


def base_spec(notebook: str, options: dict[str, Any]) -> TrainSpec:
    """A spec from `TrainSpec` keywords, with `cpu`, `memory`, `gpus` as in `Client.train`."""
    resources = Resources(**{key: options.pop(key) for key in ("cpu", "memory", "gpus") if key in options})
    return TrainSpec(name=options.pop("name", None) or default_name(notebook), resources=resources, **options)


def submit(client: Client, notebook: str, parameters: dict[str, Any] | None = None, *, output: str | None = None,
           kernel: str = DEFAULT_KERNEL, **options: Any) -> Job:
    """Run `notebook` with papermill as a job now; returns its `Job` at once (see `Job.follow`)."""
    spec = notebook_spec(notebook, parameters, output=output, kernel=kernel, base=base_spec(notebook, options))
    return client.submit(spec)


def schedule(client: Client, notebook: str, cron: str, parameters: dict[str, Any] | None = None, *,
             output: str | None = None, kernel: str = DEFAULT_KERNEL, **options: Any) -> dict[str, Any]:
    """Run `notebook` on a cron schedule (a Kubernetes CronJob); returns the CronJob as the cluster stored it."""
    spec = notebook_spec(notebook, parameters, output=output, kernel=kernel, base=base_spec(notebook, options))
    return schedule_spec(client, spec, cron)


def schedule_spec(client: Client, spec: TrainSpec, cron: str) -> dict[str, Any]:
    if client.backend.name != "kubernetes":
        raise InvalidArgument("--schedule", f"the {client.backend.name} backend has no scheduler: schedules are "
                              "Kubernetes CronJobs (--backend kubernetes); locally, call `hubml run` from cron")
    from hubml.backends.kubernetes import schedule as cron_jobs

    return cron_jobs.create(client.backend, spec, cron)
