"""`hubml quota` on both backends, and the Kubernetes backend chosen by configuration alone."""
from __future__ import annotations

import json
import sys

import pytest
from k8s_testing import NAMESPACE, wait_for

from hubml.cli import main


def write_kubeconfig(path, server_url: str) -> None:
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "fake", "cluster": {"server": server_url}}],
        "users": [{"name": "alice", "user": {"token": "not-a-secret"}}],
        "contexts": [{"name": "test", "context": {"cluster": "fake", "user": "alice", "namespace": NAMESPACE}}],
    }))


@pytest.fixture
def kubernetes_environment(server, tmp_path, monkeypatch):
    """Nothing but configuration selects the Kubernetes backend: HUBML_BACKEND and a kubeconfig."""
    kubeconfig = tmp_path / "kubeconfig"
    write_kubeconfig(kubeconfig, server.url)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("HUBML_BACKEND", "kubernetes")
    monkeypatch.setenv("HUBML_NAMESPACE", NAMESPACE)
    monkeypatch.setenv("HUBML_USER", "alice")
    monkeypatch.setenv("HUBML_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HUBML_STORAGE", "s3://team-bucket/hubml")
    return server


def test_hubml_quota_shows_the_namespaces_resource_quota(kubernetes_environment, capsys):
    kubernetes_environment.cluster.create("resourcequotas", NAMESPACE, {
        "metadata": {"name": "hubml-quota"},
        "spec": {"hard": {"requests.cpu": "8", "requests.memory": "32Gi", "requests.nvidia.com/gpu": "2"}},
        "status": {"hard": {"requests.cpu": "8", "requests.memory": "32Gi", "requests.nvidia.com/gpu": "2"},
                   "used": {"requests.cpu": "2", "requests.memory": "8Gi", "requests.nvidia.com/gpu": "1"}}})
    code = main(["quota"])
    output, errors = capsys.readouterr()
    assert code == 0, errors
    print(output)
    lines = {line.split()[0]: line.split()[1:4] for line in output.splitlines()[1:]}
    assert lines == {"requests.cpu": ["2", "8", "25%"], "requests.memory": ["8.0Gi", "32.0Gi", "25%"],
                     "requests.nvidia.com/gpu": ["1", "2", "50%"]}
    assert f"ResourceQuota hubml-quota in {NAMESPACE}" in output


def test_hubml_quota_refuses_another_namespace_than_the_notebooks(kubernetes_environment, monkeypatch, capsys):
    from hubml.backends.kubernetes import backend

    monkeypatch.setattr(backend, "own_namespace", lambda: "hubml-bob")  # as if in bob's notebook pod
    assert main(["quota"]) == 2
    assert "refuses to act in 'hubml-alice'" in capsys.readouterr().err


def test_hubml_quota_on_the_local_backend_counts_running_jobs(hubml_home, monkeypatch, capsys):
    from hubml.client import Client

    monkeypatch.setenv("HUBML_CAPACITY_CPU", "4")
    job = Client().train("import time\ntime.sleep(60)", name="holder", cpu=1.5)
    try:
        wait_for(lambda: job.state == "RUNNING", timeout=30, what="RUNNING")
        assert main(["quota", "--output", "json"]) == 0
        rows = {row["resource"]: row for row in json.loads(capsys.readouterr().out)}
        assert (rows["cpu"]["used"], rows["cpu"]["limit"]) == (1.5, 4.0)
        assert rows["cpu"]["source"] == "local capacity"
    finally:
        job.cancel()
    assert main(["quota"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[:3] == ["cpu", "0", "4"]


def test_import_hubml_and_the_local_backend_do_not_import_kubernetes():
    import subprocess

    code = ("import hubml, hubml.client, hubml.backends.local.backend, hubml.runtime.k8s_entry, sys; "
            "from hubml import backends; backends.available(); "
            "print(sorted(name for name in sys.modules if name.split('.')[0] == 'kubernetes'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_registry_finds_the_kubernetes_backend():
    from hubml import backends
    from hubml.backends.kubernetes.backend import KubernetesBackend

    assert backends.get("kubernetes") is KubernetesBackend
