"""`python -m hubml.batch.scheduled`: one run of a schedule (a pod of the CronJob `hubml run --schedule` made).

The schedule's bundle is stored once; each run copies it into its own job
folder, `{storage}/jobs/{id}/bundle` (the id is the run's Job name), then runs
the job runtime exactly as any Kubernetes job does.
"""
from __future__ import annotations

import os
import sys
import tempfile

from hubml import storage


def copy_bundle(schedule_url: str, job_url: str) -> None:
    source, target = storage.join(schedule_url, "bundle"), storage.join(job_url, "bundle")
    if storage.exists(storage.join(target, "spec.json")):
        return  # a retried pod of the same run
    with tempfile.TemporaryDirectory(prefix="hubml-schedule-") as scratch:
        storage.download(source, scratch)
        storage.upload(scratch, target)


def main() -> int:
    copy_bundle(os.environ["HUBML_SCHEDULE_URL"], os.environ["HUBML_JOB_URL"])
    from hubml.runtime.k8s_entry import main as run_replica

    return run_replica()


if __name__ == "__main__":
    sys.exit(main())
