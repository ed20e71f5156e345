"""One list-and-watch per namespace on the real API server: resumed from its resourceVersion when a proxy
cuts the stream, listed again when an etcd compaction has made that version `410 Gone`."""
from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlsplit

import pytest
from k8s_testing import POD_SECONDS, AuditLog, compact_etcd, gated, open_gate, wait_for
from kubernetes import client as k8s
from kubernetes import config as kube_config

from hubml.backends.base import RUNNING, SUCCEEDED
from hubml.backends.kubernetes.watch import ResourceWatch
from hubml.specs import TrainSpec

LABEL = "hubml.io/test"


def watch_through(kubeconfig, list_call: str, namespace: str):
    """A ResourceWatch on `list_call` of the core API through `kubeconfig`; with the (name, step) it saw."""
    api_client = kube_config.new_client_from_config(config_file=str(kubeconfig))
    seen: list[tuple[str, str]] = []
    lock = threading.Lock()

    def remember(obj):
        with lock:
            seen.append((obj["metadata"]["name"], (obj["metadata"].get("labels") or {}).get("step", "")))

    watch = ResourceWatch(getattr(k8s.CoreV1Api(api_client), list_call), namespace, LABEL, remember)
    return watch, seen, api_client


@pytest.fixture
def watched(proxy, user_namespace):
    made = []

    def make(kubeconfig, list_call):
        made.append(watch_through(kubeconfig, list_call, user_namespace.name))
        return made[-1][:2]

    yield make
    for watch, _, api_client in made:
        watch.stop()
        api_client.close()


def labelled(name: str, step: int) -> dict:
    return {"metadata": {"name": name, "labels": {LABEL: "yes", "step": str(step)}}}


def test_a_cut_watch_resumes_from_its_resource_version_without_missing_a_transition(
        proxy, watched, kube_admin, user_namespace):
    core = k8s.CoreV1Api(kube_admin)
    namespace = user_namespace.name
    core.create_namespaced_config_map(namespace, labelled("a", 0))
    audit = AuditLog(namespace)
    watch, seen = watched(proxy.notebook_kubeconfig, "list_namespaced_config_map")
    watch.start().wait_synced(30)
    wait_for(lambda: watch.watches == 1, what="the watch open")
    proxy.hold()
    assert proxy.cut() >= 1
    for step in (1, 2, 3):  # three transitions while the stream is down
        core.patch_namespaced_config_map("a", namespace, labelled("a", step))
    proxy.release()
    wait_for(lambda: (watch.get("a") or {}).get("metadata", {}).get("labels", {}).get("step") == "3",
             what="step 3 seen")
    assert seen == [("a", "0"), ("a", "1"), ("a", "2"), ("a", "3")]  # every transition, in order, once
    assert watch.lists == 1, "resumed, not listed again"
    watches = [parse_qs(urlsplit(event["requestURI"]).query) for event in audit.requests()
               if event["verb"] == "watch" and event["objectRef"]["resource"] == "configmaps"]
    first, resumed = watches[0]["resourceVersion"][0], watches[1]["resourceVersion"][0]
    assert int(resumed) >= int(first), "resumed from the last version it saw, never from the start"
    print(f"\nwatch cut and resumed: {watch.lists} list, {watch.watches} watch requests; "
          f"watched from resourceVersion {first}, resumed at {resumed}")


def test_a_resource_version_compacted_away_lists_again(proxy, watched, kube_admin, kube_cluster, user_namespace,
                                                       tmp_path):
    """Pod templates are uncached on the test cluster (cluster/control_plane.py), so their watch reads etcd."""
    core = k8s.CoreV1Api(kube_admin)
    namespace = user_namespace.name
    template = {"template": {"spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}}
    for name in ("a", "b"):
        core.create_namespaced_pod_template(namespace, {**labelled(name, 0), **template})
    admin_kubeconfig = proxy.kubeconfig(kube_cluster.kubeconfig, tmp_path / "admin-proxied.kubeconfig")
    watch, _ = watched(admin_kubeconfig, "list_namespaced_pod_template")
    watch.start().wait_synced(30)
    wait_for(lambda: watch.watches == 1, what="the watch open")
    proxy.hold()
    proxy.cut()
    core.delete_namespaced_pod_template("b", namespace)
    core.patch_namespaced_pod_template("a", namespace, labelled("a", 1))
    revision = compact_etcd()  # the versions the watch would resume from are gone: the server answers 410
    proxy.release()
    wait_for(lambda: watch.lists == 2, what="a second list")
    wait_for(lambda: set(watch.snapshot()) == {"a"}, what="the deletion seen")
    assert watch.get("a")["metadata"]["labels"]["step"] == "1"
    print(f"\netcd compacted at revision {revision}: the watch listed again ({watch.lists} lists)")


def test_the_backend_sees_every_transition_across_a_cut_watch(make_backend, proxy, kube_env, kube_admin):
    backend = make_backend(kubeconfig=proxy.notebook_kubeconfig)
    record = backend.submit(TrainSpec(name="gated", code=gated(), workers=1, ps=1))
    wait_for(lambda: backend.job(record.id).state == RUNNING, POD_SECONDS, what="RUNNING")
    lists = backend._records.lists, backend._role_jobs.lists
    proxy.hold()
    proxy.cut()
    open_gate(kube_env, record.id)
    batch = k8s.BatchV1Api(kube_admin)
    wait_for(lambda: batch.read_namespaced_job(f"{record.id}-worker", kube_env.name).status.succeeded,
             POD_SECONDS, what="the worker's Job complete while the watches are down")
    proxy.release()
    wait_for(lambda: backend.job(record.id).state == SUCCEEDED, POD_SECONDS, what="SUCCEEDED")
    assert (backend._records.lists, backend._role_jobs.lists) == lists, "resumed, not listed again"
    wait_for(lambda: batch.read_namespaced_job(f"{record.id}-ps", kube_env.name).status.succeeded,
             POD_SECONDS, what="the ps ended by itself once worker 0 decided")
