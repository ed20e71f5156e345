"""`python -m hubml.runtime.k8s_entry`, run as a pod would run it: the environment its manifest gives it."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from traitlets.config import Config

from hubml import bundle, storage
from hubml.backends.kubernetes import manifests
from hubml.backends.kubernetes.options import ClusterOptions
from hubml.runtime.attempts import JobFolder
from hubml.runtime.k8s_entry import tf_config_from_pod
from hubml.specs import TrainSpec

NAMESPACE, JOB_ID = "hubml-alice", "dist-0a1b2c"
PRINT_TF_CONFIG = "import os\nprint('TF_CONFIG=' + os.environ.get('TF_CONFIG', ''))\n"


def pod_environment(spec: TrainSpec, storage_url: str, role: str, index: int) -> dict[str, str]:
    """The replica container's environment from the Job manifest, plus what Kubernetes adds."""
    target = manifests.Target(NAMESPACE, "alice", storage_url,
                              ClusterOptions.resolve(Config(), storage_claim="hubml-storage"))
    job = manifests.role_job(JOB_ID, spec, role, spec.replicas[role], target)
    environment = {each["name"]: each["value"] for each in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    inherited = {key: value for key, value in os.environ.items()
                 if not key.startswith("HUBML_") and key != "TF_CONFIG"}
    return {**inherited, **environment, "JOB_COMPLETION_INDEX": str(index)}


@pytest.fixture
def published(tmp_path):
    """A bundle in file:// storage, as `Backend.submit` leaves it before creating the Jobs."""
    storage_url = f"file://{tmp_path}/storage"

    def publish(code: str, **fields) -> TrainSpec:
        spec = TrainSpec(name="dist", code=code, **fields).validate()
        bundle.publish(spec, storage.join(storage_url, "jobs", JOB_ID))
        return spec

    return storage_url, publish


def run_entry(environment: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hubml.runtime.k8s_entry"], env=environment, capture_output=True,
                          text=True, timeout=timeout)


def test_tf_config_comes_from_the_role_and_the_completion_index():
    cluster = {"chief": ["c-0:2222"], "worker": ["w-0:2222", "w-1:2222"]}
    environ = {"HUBML_TF_CLUSTER": json.dumps(cluster), "HUBML_ROLE": "worker", "JOB_COMPLETION_INDEX": "1"}
    assert json.loads(tf_config_from_pod(environ)) == {"cluster": cluster, "task": {"type": "worker", "index": 1}}
    assert tf_config_from_pod({"HUBML_ROLE": "worker", "JOB_COMPLETION_INDEX": "0"}) is None  # one replica
    with pytest.raises(ValueError):
        tf_config_from_pod({**environ, "JOB_COMPLETION_INDEX": "2"})


def job_folder(storage_url: str) -> JobFolder:
    return JobFolder(storage.join(storage_url, "jobs", JOB_ID))


def joined(storage_url: str, *replicas: str) -> None:
    """Replicas of other pods, as if they had joined the current attempt."""
    for replica in replicas:
        job_folder(storage_url).join(replica)


def test_a_worker_pod_runs_the_job_with_tf_config_naming_its_peers(published):
    storage_url, publish = published
    spec = publish(PRINT_TF_CONFIG, workers=2)
    joined(storage_url, "worker-0")
    result = run_entry(pod_environment(spec, storage_url, "worker", 1))
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("TF_CONFIG="))
    config = json.loads(line[len("TF_CONFIG="):])
    assert config["task"] == {"type": "worker", "index": 1}
    assert config["cluster"]["worker"] == [f"{JOB_ID}-worker-{i}.{JOB_ID}.{NAMESPACE}.svc.cluster.local:2222"
                                           for i in range(2)]


def test_the_chief_records_the_outcome_and_a_ps_then_ends_by_itself(published):
    storage_url, publish = published
    spec = publish("import time, os\nif os.environ['HUBML_ROLE'] == 'ps':\n    time.sleep(120)\nprint('done')\n",
                   chief=True, workers=1, ps=1)
    joined(storage_url, "worker-0")
    ps = subprocess.Popen([sys.executable, "-m", "hubml.runtime.k8s_entry"],
                          env={**pod_environment(spec, storage_url, "ps", 0), "HUBML_OUTCOME_POLL_SECONDS": "0.1"},
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        waiting = next(line for line in ps.stdout if "attempt" in line or ps.poll() is not None)
        assert "attempt 1: waiting for chief-0 to join" in waiting and ps.poll() is None
        chief = run_entry(pod_environment(spec, storage_url, "chief", 0))
        assert chief.returncode == 0, chief.stderr
        outcome = json.loads(storage.read_text(storage.join(storage_url, "jobs", JOB_ID, "outcome.json")))
        assert {key: outcome[key] for key in ("state", "replica", "exit_code", "attempt")} == \
            {"state": "SUCCEEDED", "replica": "chief-0", "exit_code": 0, "attempt": 1}
        assert ps.wait(timeout=30) == 0, "a ps runs until the job is decided"
        assert "the job is decided" in ps.stdout.read()
    finally:
        if ps.poll() is None:
            ps.kill()
            ps.wait()


def test_no_replica_starts_its_code_before_every_replica_joined_its_attempt(published):
    """Attempt 2's addresses are attempt 1's: a replacement that ran at once could reach a peer of the lost
    attempt that is still stopping."""
    storage_url, publish = published
    spec = publish(PRINT_TF_CONFIG, workers=2)
    joined(storage_url, "worker-0", "worker-1")
    job_folder(storage_url).mark_lost(1, "worker-1", "was stopped")
    replacement = subprocess.Popen([sys.executable, "-m", "hubml.runtime.k8s_entry"],
                                   env={**pod_environment(spec, storage_url, "worker", 1),
                                        "HUBML_OUTCOME_POLL_SECONDS": "0.1"},
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        waiting = next(line for line in replacement.stdout if "attempt" in line or replacement.poll() is not None)
        assert "attempt 2: waiting for worker-0 to join" in waiting and replacement.poll() is None
        joined(storage_url, "worker-0")
        rest = replacement.communicate(timeout=60)[0]
        assert replacement.returncode == 0, rest
        assert '"task": {"type": "worker", "index": 1}' in rest
    finally:
        if replacement.poll() is None:
            replacement.kill()
            replacement.wait()
