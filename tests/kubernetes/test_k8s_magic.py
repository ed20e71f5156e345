"""`%%train` on the real cluster with nothing changed but configuration: the same cell, followed to the end."""
from __future__ import annotations

from k8s_testing import api


def close_clients(shell) -> None:
    """Stop the watches of the clients the magics made (the magics keep them for the session)."""
    for magics in shell.magics_manager.registry.values():
        for client in getattr(magics, "_clients", {}).values():
            client.backend.close()


def test_train_magic_runs_and_follows_a_job_on_kubernetes(kube_env, kube_admin, shell, capsys):
    try:
        job = shell.run_cell("%%train --name demo --workers 2\nprint('hello from a replica')\n")
    finally:
        close_clients(shell)
    output = capsys.readouterr().out
    assert job.state == "SUCCEEDED" and job.record.backend == "kubernetes", output
    for line in ("[worker-0] hello from a replica", "[worker-1] hello from a replica"):
        assert line in output
    record, = api(kube_admin, "configmaps")(kube_env.name, field_selector=f"metadata.name={job.id}")
    assert record["metadata"]["labels"]["hubml.io/user"] == "alice"
