"""`--retries` on the real cluster means what it means locally (hubml/runtime/retries.py): a lost attempt
runs again as a whole and resumes from its checkpoint; a code error fails at once. And the outcome is
decided in the pods, so a job nobody watched reads its true state, even once its Jobs are gone."""
from __future__ import annotations

import re
import subprocess
import sys

from k8s_testing import POD_SECONDS, api, pods_of, wait_for
from kubernetes import client as k8s
from trainers import multi_worker

from hubml.backends.base import FAILED, SUCCEEDED
from hubml.specs import TrainSpec

TRAIN_SECONDS = 600
BEGINS = re.compile(r"attempt (\d+) begins epoch (\d+)")


def epochs_begun(lines) -> list[tuple[int, int]]:
    return [(int(match[1]), int(match[2])) for line in lines if (match := BEGINS.search(line.text))]


def test_deleting_a_worker_pod_mid_training_gives_attempt_2_which_resumes_from_its_checkpoint(backend, kube_admin,
                                                                                             kube_env):
    # A pause after each epoch leaves the deletion time to land before training could end.
    record = backend.submit(TrainSpec(name="resume", code=multi_worker(epochs=3, pause_seconds=10), workers=2,
                                      retries=1))
    wait_for(lambda: (1, 2) in epochs_begun(backend.logs(record.id)), TRAIN_SECONDS,
             what="attempt 1 past its first epoch (backed up)")
    worker_1 = next(pod["metadata"]["name"] for pod in pods_of(kube_admin, kube_env.name, record.id)
                    if pod["metadata"]["labels"].get("batch.kubernetes.io/job-completion-index") == "1"
                    and not pod["metadata"].get("deletionTimestamp"))
    k8s.CoreV1Api(kube_admin).delete_namespaced_pod(worker_1, kube_env.name)
    job = wait_for(lambda: (lambda job: job if job.final else None)(backend.job(record.id)), TRAIN_SECONDS,
                   what="the job final")
    lines = list(backend.logs(record.id))
    log = "\n".join(f"{line.attempt} {line.replica} {line.text}" for line in lines if "oneDNN" not in line.text)
    assert job.state == SUCCEEDED and job.attempt == 2, f"{job.state} in attempt {job.attempt}: {job.reason}\n{log}"
    begun = epochs_begun(lines)
    second = [epoch for attempt, epoch in begun if attempt == 2]
    assert second and min(second) >= 2, f"attempt 2 resumed from the checkpoint, not from epoch 1:\n{log}"
    assert {line.attempt for line in lines if line.text.startswith("attempt 2")} == {2}
    print(f"\nworker-1's pod deleted mid-training: epochs begun {begun}; attempt {job.attempt} {job.state}")


def test_a_code_error_fails_at_once_with_the_log_tail_whatever_the_retries(kube_env):
    from hubml.client import Client

    job = Client().train("print('computing', flush=True)\nraise ValueError('bad shape')", name="broken", workers=2,
                         retries=2)
    job.wait(timeout=POD_SECONDS * 2, raise_on_failure=False)
    assert job.state == FAILED and job.record.attempt == 1
    assert "exited with code 1" in job.record.reason
    tail = job.log_tail()
    assert "ValueError: bad shape" in tail and "computing" in tail


def test_a_detached_job_reads_its_true_outcome_with_no_client_even_once_its_jobs_are_gone(kube_env, kube_admin,
                                                                                         tmp_path):
    (tmp_path / "ok.py").write_text("print('fine')\n")
    (tmp_path / "bad.py").write_text("raise RuntimeError('no luck')\n")
    submitted = {}
    for name in ("ok", "bad"):
        result = subprocess.run([sys.executable, "-m", "hubml.cli", "jobs", "submit", f"{name}.py", "--name", name,
                                 "--detach"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        submitted[name] = re.search(rf"\b({name}-[0-9a-f]+)\b", result.stdout + result.stderr)[1]
    # No client runs now: the pods decide. Once their Jobs have ended, they are deleted (as the TTL would).
    batch = k8s.BatchV1Api(kube_admin)
    for job_id in submitted.values():
        wait_for(lambda: any(condition.type in ("Complete", "Failed") and condition.status == "True"
                             for condition in (batch.read_namespaced_job(f"{job_id}-worker", kube_env.name)
                                               .status.conditions or [])),
                 POD_SECONDS, what=f"{job_id}'s Job ended")
        batch.delete_namespaced_job(f"{job_id}-worker", kube_env.name, propagation_policy="Background")
    wait_for(lambda: not api(kube_admin, "jobs")(kube_env.name, label_selector="hubml.io/job"),
             POD_SECONDS, what="the Jobs gone")
    from hubml.client import Client

    client = Client()
    ok, bad = client.job(submitted["ok"]), client.job(submitted["bad"])
    assert (ok.state, ok.record.exit_code) == (SUCCEEDED, 0)
    assert bad.state == FAILED and bad.record.exit_code == 1 and "exited with code 1" in bad.record.reason
    assert "RuntimeError: no luck" in bad.log_tail()
