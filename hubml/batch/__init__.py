"""Batch notebooks: `hubml run NOTEBOOK.ipynb -p NAME VALUE ...` runs a notebook with papermill as a job.

    hubml.batch.submit(client, "report.ipynb", {"alpha": 0.5}, cpu=2)   # -> Job
    hubml.batch.schedule(client, "report.ipynb", "0 6 * * *")           # Kubernetes CronJob

The job is an ordinary `TrainSpec` whose code calls `hubml.batch.execute.run`
on the notebook shipped in its bundle; papermill's parameters travel as the
job's hyperparameters (`HUBML_HPARAMS`), so a notebook is tunable like a cell.
See `hubml/batch/submit.py` (what is sent) and `hubml/batch/execute.py` (what
runs in the job).
"""
from hubml.batch.submit import schedule, submit

__all__ = ["schedule", "submit"]
