"""`%%train` on Kubernetes with nothing changed but configuration: the same cell, followed to the end.

The fake API server stands in for the cluster; a thread plays the Job
controller and the kubelet (it starts the pods, writes their log lines and
completes them) while the magic follows the job through the real client.
"""
from __future__ import annotations

import threading

import pytest
from k8s_testing import NAMESPACE, wait_for
from k8s_controller import Controller
from test_k8s_quota_cli import write_kubeconfig


@pytest.fixture
def kubernetes_config(server, hubml_home, tmp_path, monkeypatch):
    kubeconfig = tmp_path / "kubeconfig"
    write_kubeconfig(kubeconfig, server.url)
    for name, value in {"KUBECONFIG": str(kubeconfig), "HUBML_BACKEND": "kubernetes", "HUBML_USER": "alice",
                        "HUBML_NAMESPACE": NAMESPACE, "HUBML_STORAGE": f"file://{tmp_path}/storage",
                        "HUBML_K8S_STORAGE_CLAIM": "hubml-storage"}.items():
        monkeypatch.setenv(name, value)
    return server


def play_the_cluster(server) -> None:
    """Run the job's two workers: each logs two lines and exits 0."""
    controller = Controller(server.cluster, NAMESPACE)
    jobs = wait_for(lambda: server.cluster.list("jobs", NAMESPACE, "hubml.io/role=worker")[0], timeout=60,
                    what="a Job")
    name = jobs[0]["metadata"]["name"]
    pods = controller.start(name)
    for index, pod in enumerate(pods):
        controller.log(pod, f"hello from worker {index}")
        controller.log(pod, f"worker {index} done")
    for index in (1, 0):
        controller.complete_index(name, index, pods[index])


def close_clients(shell) -> None:
    """Stop the watches of the clients the magics made (the magics keep them for the session)."""
    for magics in shell.magics_manager.registry.values():
        for client in getattr(magics, "_clients", {}).values():
            client.backend.close()


def test_train_magic_runs_and_follows_a_job_on_kubernetes(kubernetes_config, shell, capsys):
    cluster = threading.Thread(target=play_the_cluster, args=(kubernetes_config,), daemon=True)
    cluster.start()
    try:
        job = shell.run_cell("%%train --name demo --workers 2\nprint('training')\n")
    finally:
        close_clients(shell)
    cluster.join(timeout=10)
    output = capsys.readouterr().out
    assert job.state == "SUCCEEDED" and job.record.backend == "kubernetes"
    for line in ("[worker-0] hello from worker 0", "[worker-1] hello from worker 1", "[worker-1] worker 1 done"):
        assert line in output
    record = kubernetes_config.cluster.get("configmaps", NAMESPACE, job.id)
    assert record["metadata"]["labels"]["hubml.io/user"] == "alice"
