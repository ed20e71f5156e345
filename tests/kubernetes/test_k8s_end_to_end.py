"""The core loop on the real cluster, from the CLI and from a notebook under papermill, with nothing but the
cluster's environment (what `source .cluster/env` gives, here as the namespace's notebook account):

- `--workers 2` with MultiWorkerMirroredStrategy: two pods whose TF_CONFIG names resolve through the job's
  headless Service, one model version in storage;
- `--chief --ps 1 --workers 2` with ParameterServerStrategy: four pods, the variables on the ps;
- deploy that model and predict over REST and gRPC;
- `hubml run --schedule`: a CronJob that fires, and its output notebook in storage.
"""
from __future__ import annotations

import json
import subprocess
import sys

import nbformat
import pytest
from notebook_helpers import outputs_text, write_notebook
from k8s_testing import POD_SECONDS, api, wait_for
from trainers import PARAMETER_SERVER, multi_worker

from hubml import storage

TRAIN_SECONDS = 600


def hubml_cli(*arguments: str, cwd, timeout: float = TRAIN_SECONDS) -> str:
    result = subprocess.run([sys.executable, "-m", "hubml.cli", *arguments], cwd=cwd, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"hubml {' '.join(arguments)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def model_versions(kube_env, model: str) -> list[str]:
    folder = storage.join(kube_env.storage_url, "models", model)
    return [name for name in storage.listdir(folder) if storage.exists(storage.join(folder, name, "saved_model.pb"))]


def assert_resolved_through_cluster_dns(output: str, workers: int) -> None:
    resolved = [line for line in output.splitlines() if " resolved " in line]
    assert len(resolved) == workers * workers, output[-2000:]  # every worker resolves every worker
    assert all(".svc.cluster.local -> 10.244." in line for line in resolved), resolved


def test_the_cli_trains_on_two_workers_deploys_predicts_and_trains_with_parameter_servers(kube_env, tmp_path):
    (tmp_path / "train.py").write_text(multi_worker())
    output = hubml_cli("jobs", "submit", "train.py", "--name", "mwms", "--workers", "2", cwd=tmp_path)
    assert_resolved_through_cluster_dns(output, 2)
    assert "[worker-0] [hubml] model exported to " in output
    assert model_versions(kube_env, "mwms") == ["1"]

    hubml_cli("endpoints", "deploy", "mwms", "--name", "mwms", cwd=tmp_path)
    for protocol in ("rest", "grpc"):
        answer = json.loads(hubml_cli("endpoints", "predict", "mwms", "[[1.0], [3.0]]", "--protocol", protocol,
                                      cwd=tmp_path))
        assert answer == [[2.5], [3.5]], (protocol, answer)
    hubml_cli("endpoints", "undeploy", "mwms", cwd=tmp_path)

    (tmp_path / "ps.py").write_text(PARAMETER_SERVER)
    output = hubml_cli("jobs", "submit", "ps.py", "--name", "pss", "--chief", "--ps", "1", "--workers", "2",
                       cwd=tmp_path)
    assert "[worker-0] worker 0 serving" in output and "[worker-1] worker 1 serving" in output
    assert "[ps-0] ps 0 serving" in output
    assert "/job:ps/replica:0/task:0" in next(line for line in output.splitlines() if "parameter servers:" in line)
    assert model_versions(kube_env, "pss") == ["1"]


NOTEBOOK_CHECK = """
import numpy as np
rows = np.array([[1.0], [3.0]], dtype="float32")
for protocol in ("rest", "grpc"):
    print(protocol, endpoint.predict(rows, protocol=protocol).ravel().tolist())
"""


def test_a_notebook_trains_deploys_and_predicts_on_the_cluster(kube_env, tmp_path):
    cells = ["%load_ext hubml",
             "%%train --name nbmwms --workers 2\n" + multi_worker(),
             "endpoint = %deploy nbmwms --name nbapi",
             "%predict nbapi [[1.0], [3.0]]",
             NOTEBOOK_CHECK,
             "%undeploy nbapi",
             "%%train --name nbpss --chief --ps 1 --workers 2\n" + PARAMETER_SERVER]
    write_notebook(tmp_path / "loop.ipynb", *cells)
    result = subprocess.run([sys.executable, "-m", "papermill", "loop.ipynb", "loop-out.ipynb", "-k", "python3"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=3 * TRAIN_SECONDS)
    assert result.returncode == 0, result.stderr[-4000:]
    text = outputs_text(tmp_path / "loop-out.ipynb")
    assert_resolved_through_cluster_dns(text, 2)
    assert "[[2.5], [3.5]]" in text  # %predict prints the JSON answer
    assert "rest [2.5, 3.5]" in text and "grpc [2.5, 3.5]" in text
    assert "[ps-0] ps 0 serving" in text
    assert model_versions(kube_env, "nbmwms") == ["1"] and model_versions(kube_env, "nbpss") == ["1"]


@pytest.mark.parametrize("front_end", ["cli", "notebook"])
def test_a_scheduled_notebook_fires_on_the_cluster_and_saves_its_output(kube_env, kube_admin, tmp_path, front_end):
    write_notebook(tmp_path / "nightly.ipynb", "print('report for', day)", parameters="day = 'monday'")
    if front_end == "cli":
        hubml_cli("run", "nightly.ipynb", "--name", "nightly", "--schedule", "* * * * *", "-p", "day", "sunday",
                  cwd=tmp_path)
    else:
        write_notebook(tmp_path / "scheduler.ipynb", "import hubml\nfrom hubml import batch\n"
                       "batch.schedule(hubml.Client(), 'nightly.ipynb', '* * * * *', {'day': 'sunday'}, "
                       "name='nightly')")
        subprocess.run([sys.executable, "-m", "papermill", "scheduler.ipynb", "scheduler-out.ipynb", "-k", "python3"],
                       cwd=tmp_path, check=True, capture_output=True, timeout=300)
    (cron_job,) = api(kube_admin, "cronjobs")(kube_env.name, label_selector="hubml.io/schedule=nightly")
    assert cron_job["spec"]["schedule"] == "* * * * *"
    # The CronJob controller fires at the next minute; the run's Job completes once papermill has run.
    run = wait_for(lambda: next((job for job in api(kube_admin, "jobs")(kube_env.name,
                                                                          label_selector="hubml.io/schedule=nightly")
                                 if job.get("status", {}).get("succeeded")), None), 120 + POD_SECONDS,
                   "a scheduled run completed")
    output = storage.join(kube_env.storage_url, "jobs", run["metadata"]["name"], "output.ipynb")
    book = nbformat.reads(storage.read_text(output), as_version=4)
    printed = "".join(out.get("text", "") for cell in book.cells for out in cell.get("outputs", []))
    assert "report for sunday" in printed
