"""`make cluster` and `make cluster-down`: bring the single-node cluster up, or take it down and remove its state.

    up:   build (cached) -> certificates -> storage -> etcd -> API server -> controllers -> containerd and images
          -> kubelet and kube-proxy -> node Ready -> cluster DNS answering -> volume provisioner
          -> the developer's namespace -> .cluster/env
    down: node (pods, containers, networks, mounts) -> control plane -> storage -> .cluster/ and /run/hubml-cluster

`up` is idempotent: what already runs is left alone, so on a running cluster
it returns at once. The pytest session fixture for Kubernetes tests calls the
same `up()`.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from cluster import addons, build, configs, control_plane, dns, images, layout, node, pki, processes, storage
from cluster.layout import state

COMPONENTS = ("seaweedfs", "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "containerd",
              "kubelet", "kube-proxy")
NODE_READY_SECONDS = 120.0
DNS_READY_SECONDS = 120.0


class ClusterError(RuntimeError):
    pass


@dataclass(frozen=True)
class Cluster:
    """A running cluster, as hubml and the tests use it."""

    kubeconfig: Path
    env_file: Path
    node_ip: str
    environment: dict[str, str]


def up(verbose: bool = True) -> Cluster:
    _check_machine()
    node_ip = layout.node_ip()
    if _recorded_node_ip() not in (None, node_ip):  # state made on another machine or network
        down()
    if is_up():
        # hubml's own code (or this checkout's addons) may have changed since: images are rebuilt (cached by
        # a hash of their sources) and imported again only if they differ, so pods always run the code under
        # test, and the addons are applied again, which changes nothing where nothing changed.
        images.ensure_imported(images.system_images() + images.hubml_images(), node.CTR)
        _apply_addons(addons.admin_client(str(admin_kubeconfig())))
        return describe(node_ip)
    complete = layout.STATE / "up"  # written last: everything below was done
    started = time.monotonic()
    say = print if verbose else (lambda *_: None)
    _claim_machine()
    binaries = build.binaries("kubernetes")
    system_images, hubml_images = images.system_images(), images.hubml_images()
    say(f"cluster: binaries and images ready after {time.monotonic() - started:.0f} s", flush=True)
    state("node-ip").write_text(node_ip)
    pki.ensure(layout.STATE / "pki", layout.NODE, node_ip, layout.API_SERVICE_IP, layout.CLUSTER_DOMAIN)
    server = f"https://{node_ip}:{layout.API_PORT}"
    admin = configs.kubeconfig("admin", server)
    storage.start(node_ip)
    control_plane.start_etcd(binaries)
    control_plane.start_api_server(binaries, node_ip)
    control_plane.start_controllers(binaries, server)
    node.prepare_kernel()
    node.start_containerd()
    images.ensure_imported(system_images + hubml_images, node.CTR)
    node.start_kubelet(binaries, node_ip, server)
    node.start_kube_proxy(binaries, server)
    api = addons.admin_client(str(admin))
    _wait_for_node(api)
    _apply_addons(api)
    _wait_for_dns()
    cluster = describe(node_ip)
    addons.developer_namespace(api, cluster.environment)
    complete.write_text(f"{time.monotonic() - started:.0f} s\n")
    say(f"cluster: up in {time.monotonic() - started:.0f} s", flush=True)
    return cluster


def _apply_addons(api) -> None:
    addons.apply(api, addons.coredns())
    addons.apply(api, addons.local_path_storage())


def is_up() -> bool:
    """True when a complete `up` ran and every component still runs."""
    return (layout.STATE / "up").exists() and all(processes.running(name) for name in COMPONENTS) \
        and control_plane.api_ready()


def down() -> None:
    """Stop everything `up` started, by PID, and remove the cluster's state (the build cache stays)."""
    _check_machine()
    owner = layout.RUNTIME / "owner"
    if owner.exists() and owner.read_text().strip() != str(layout.REPO):
        raise ClusterError(f"the cluster on this machine belongs to {owner.read_text().strip()}: run "
                           "`make cluster-down` there")
    binaries = build.binary_folder("kubernetes")
    node.stop(binaries if binaries.exists() else None)
    for name in ("kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd", "seaweedfs"):
        processes.stop(name)
    for folder in (layout.STATE, layout.RUNTIME):
        shutil.rmtree(folder, ignore_errors=True)


def _check_machine() -> None:
    if os.geteuid() != 0:
        raise ClusterError("the test cluster runs a kubelet, containerd and iptables rules: run it as root")


def _claim_machine() -> None:
    """One cluster per machine (its ports, bridge and iptables rules are the machine's): record whose it is."""
    owner = layout.RUNTIME / "owner"
    if owner.exists() and owner.read_text().strip() != str(layout.REPO):
        raise ClusterError(f"a cluster of {owner.read_text().strip()} runs on this machine: run "
                           "`make cluster-down` there first")
    layout.RUNTIME.mkdir(parents=True, exist_ok=True)
    owner.write_text(str(layout.REPO))


def _recorded_node_ip() -> str | None:
    path = layout.STATE / "node-ip"
    return path.read_text().strip() if path.exists() else None


def _wait_for_node(api) -> None:
    from kubernetes import client as k8s

    core = k8s.CoreV1Api(api)
    deadline = time.monotonic() + NODE_READY_SECONDS
    while time.monotonic() < deadline:
        if not processes.running("kubelet"):
            raise ClusterError(f"the kubelet exited:\n{processes.log_tail('kubelet')}")
        nodes = core.list_node().items
        ready = [n for n in nodes if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])]
        if ready:
            return
        time.sleep(0.5)
    raise ClusterError(f"node {layout.NODE} not Ready within {NODE_READY_SECONDS:g} s:\n"
                       f"{processes.log_tail('kubelet')}")


def _wait_for_dns() -> None:
    name = f"kubernetes.default.svc.{layout.CLUSTER_DOMAIN}"
    deadline = time.monotonic() + DNS_READY_SECONDS
    while time.monotonic() < deadline:
        if dns.resolve(name, layout.DNS_SERVICE_IP) == [layout.API_SERVICE_IP]:
            return
        time.sleep(0.5)
    raise ClusterError(f"cluster DNS ({layout.DNS_SERVICE_IP}) did not answer {name} within "
                       f"{DNS_READY_SECONDS:g} s; see `kubectl -n kube-system logs deploy/coredns`")


def admin_kubeconfig() -> Path:
    return layout.STATE / "kubeconfigs" / "admin.yaml"


def describe(node_ip: str) -> Cluster:
    """The running cluster, written to .cluster/env: kubeconfig, hubml's settings, and the hub's, once installed."""
    kubeconfig = admin_kubeconfig()
    environment = {"KUBECONFIG": str(kubeconfig), "HUBML_BACKEND": "kubernetes", **addons.hubml_environment(),
                   "HUBML_STORAGE": storage.storage_url(), **storage.environment(node_ip)}
    hub_record = layout.STATE / "hub.json"
    if hub_record.exists():
        environment.update(json.loads(hub_record.read_text()))
    env_file = state("env")
    env_file.write_text("".join(f"export {key}={shlex.quote(value)}\n" for key, value in environment.items()))
    return Cluster(kubeconfig, env_file, node_ip, environment)
