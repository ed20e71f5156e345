"""`hubml quota` on both backends, and the Kubernetes backend chosen by configuration alone."""
from __future__ import annotations

import json
import sys

from k8s_testing import POD_SECONDS, gated, open_gate, wait_for
from kubernetes import client as k8s
from kubernetes.utils import parse_quantity

from cluster.addons import TEST_DEFAULT_CPU
from hubml.cli import main


def quota_used(kube_admin, namespace: str) -> dict[str, str]:
    quota = k8s.CoreV1Api(kube_admin).read_namespaced_resource_quota("hubml-quota", namespace)
    return (quota.status and quota.status.used) or {}


def test_hubml_quota_shows_what_the_quota_controller_counts(kube_env, kube_admin, capsys):
    """Nothing but configuration (.cluster/env's exports) selects the Kubernetes backend."""
    from hubml.client import Client

    job = Client().train(gated(), name="holder")  # the default request: what the namespace's LimitRange gives
    try:
        wait_for(lambda: parse_quantity(quota_used(kube_admin, kube_env.name).get("requests.cpu", "0")) > 0,
                 POD_SECONDS, what="the quota controller counting the job's pod")
        assert main(["quota", "--output", "json"]) == 0
        rows = {row["resource"]: row for row in json.loads(capsys.readouterr().out)}
        quota = k8s.CoreV1Api(kube_admin).read_namespaced_resource_quota("hubml-quota", kube_env.name)
        assert set(rows) == set(quota.status.hard)
        for resource, row in rows.items():
            assert row["limit"] == float(parse_quantity(quota.status.hard[resource]))
            assert row["used"] == float(parse_quantity(quota.status.used.get(resource, "0")))
            assert row["source"] == f"ResourceQuota hubml-quota in {kube_env.name}"
        assert rows["requests.cpu"]["used"] == float(TEST_DEFAULT_CPU)
        assert main(["quota"]) == 0
        print(capsys.readouterr().out)
    finally:
        open_gate(kube_env, job.id)
        job.wait()


def test_hubml_quota_refuses_another_namespace_than_the_notebooks(kube_env, monkeypatch, capsys):
    from hubml.backends.kubernetes import backend

    monkeypatch.setattr(backend, "own_namespace", lambda: "hubml-bob")  # as if in bob's notebook pod
    assert main(["quota"]) == 2
    assert f"refuses to act in '{kube_env.name}'" in capsys.readouterr().err


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
