"""`hubml run --schedule`: the CronJob, validated against Kubernetes' schemas, and created through the official client."""
from __future__ import annotations

import sys

import kubernetes_validate
import pytest
from traitlets.config import Config

from notebook_helpers import write_notebook
from hubml.backends.kubernetes import schedule
from hubml.backends.kubernetes.manifests import Target
from hubml.backends.kubernetes.options import ClusterOptions
from hubml.batch.submit import notebook_spec
from hubml.exceptions import InvalidArgument
from hubml.specs import Resources, TrainSpec

KUBERNETES_VERSION = kubernetes_validate.latest_version()
STORAGE = "s3://team-bucket/hubml"


def target(**options) -> Target:
    return Target("hubml-alice", "alice", STORAGE, ClusterOptions.resolve(Config(), **options))


def nightly(tmp_path, output: str | None = None, **fields) -> TrainSpec:
    write_notebook(tmp_path / "nightly.ipynb", "print(day)", parameters="day = 'monday'")
    base = TrainSpec(name="nightly", source_dir=str(tmp_path), **fields)
    return notebook_spec("nightly.ipynb", {"day": "sunday"}, output=output, base=base).validate()


@pytest.mark.parametrize("fields", [{}, {"image": "registry.example.com/team/tf:2.21", "labels": {"team": "bi"},
                                          "resources": Resources(cpu=2, memory="4Gi", gpus=1), "retries": 2,
                                          "timeout": 600}], ids=["runtime-image", "own-image-gpu"])
def test_the_cron_job_validates_strictly(tmp_path, fields):
    manifest = schedule.cron_job("nightly", nightly(tmp_path, **fields), "0 6 * * 1-5", target())
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    pod = manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert manifest["spec"]["schedule"] == "0 6 * * 1-5" and container["command"][-1] == "hubml.batch.scheduled"
    if fields:  # bring your own image: the runtime is copied in by an init container, as for any job
        assert container["image"] == fields["image"]
        assert {"name": "PYTHONPATH", "value": "/opt/hubml-runtime"} in container["env"]
        assert pod["initContainers"][0]["image"] == ClusterOptions.resolve(Config()).runtime_image


def test_each_run_takes_its_jobs_name_as_id_and_its_own_job_folder(tmp_path):
    manifest = schedule.cron_job("nightly", nightly(tmp_path), "@daily", target())
    template = manifest["spec"]["jobTemplate"]["spec"]["template"]
    env = template["spec"]["containers"][0]["env"]
    names = [variable["name"] for variable in env]
    job_id = env[names.index("HUBML_JOB_ID")]
    assert job_id["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.labels['batch.kubernetes.io/job-name']"
    # $(VAR) is only expanded from variables declared before it.
    assert names.index("HUBML_JOB_ID") < names.index("HUBML_JOB_URL")
    assert env[names.index("HUBML_JOB_URL")]["value"] == f"{STORAGE}/jobs/$(HUBML_JOB_ID)"
    assert env[names.index("HUBML_SCHEDULE_URL")]["value"] == f"{STORAGE}/schedules/nightly"
    # Runs are not hubml job records: the backend's job watches (label hubml.io/job) must not see them.
    assert "hubml.io/job" not in template["metadata"]["labels"]
    assert template["metadata"]["labels"]["hubml.io/schedule"] == "nightly"
    assert "subdomain" not in template["spec"]


@pytest.mark.parametrize("cron", ["every day", "0 6 * *", "0 6 * * * *", "@sometimes", "0 6 * * $(rm)"])
def test_a_malformed_schedule_is_refused(tmp_path, cron):
    with pytest.raises(InvalidArgument, match="--schedule"):
        schedule.cron_job("nightly", nightly(tmp_path), cron, target())


def test_the_schedule_is_created_in_the_users_namespace_with_its_bundle_stored(kube_env, tmp_path):
    """On the real cluster, as the namespace's notebook account (it fires there: tests/kubernetes end to end)."""
    from kubernetes import config as kube_config

    from hubml import storage
    from hubml.backends.kubernetes.backend import KubernetesBackend

    api_client = kube_config.new_client_from_config(config_file=str(kube_env.kubeconfig))
    backend = KubernetesBackend(kube_env.settings(tmp_path / "home"), api_client=api_client,
                                options=ClusterOptions.resolve(Config()))
    try:
        created = schedule.create(backend, nightly(tmp_path), "30 2 * * *")
        assert created["metadata"]["namespace"] == kube_env.name
        assert [each["metadata"]["name"] for each in schedule.schedules(backend)] == ["nightly"]
        stored = storage.join(kube_env.storage_url, "schedules", "nightly", "bundle")
        assert storage.exists(storage.join(stored, "nightly.ipynb")) and storage.exists(storage.join(stored,
                                                                                                       "spec.json"))
        schedule.delete(backend, "nightly")
        assert schedule.schedules(backend) == [] and not storage.exists(storage.join(stored, "spec.json"))
    finally:
        backend.close()
        api_client.close()


def test_a_run_of_the_schedule_copies_the_bundle_into_its_own_job_folder_and_runs(tmp_path):
    """What the CronJob's pod runs, as a process here with the environment the manifest gives it."""
    import os
    import subprocess

    from hubml import bundle
    from notebook_helpers import outputs_text

    storage_url = f"file://{tmp_path}/storage"
    bundle.publish(nightly(tmp_path, output="reports/{job}.ipynb"), f"{storage_url}/schedules/nightly")
    run_id = "nightly-29412345"
    env = {**os.environ, "HUBML_JOB_ID": run_id, "HUBML_JOB_URL": f"{storage_url}/jobs/{run_id}",
           "HUBML_SCHEDULE_URL": f"{storage_url}/schedules/nightly", "HUBML_STORAGE": storage_url,
           "HUBML_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-m", "hubml.batch.scheduled"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "sunday" in outputs_text(tmp_path / "reports" / f"{run_id}.ipynb")  # each run's own output
    assert (tmp_path / "storage" / "jobs" / run_id / "bundle" / "nightly.ipynb").exists()
