"""The node: containerd (Debian's, with runc), the kubelet and kube-proxy, and how to take them all down.

Pods really run: the kubelet asks containerd over CRI for each pod's sandbox
(the pause image) and containers, CNI's bridge plugin puts them on the
`hubml0` bridge, and kube-proxy's iptables rules carry Service traffic, also
the host's own. Taking the node down removes what those left on the machine:
containers and their shims, network namespaces, the bridge, iptables chains,
and the mounts under the kubelet's folder.
"""
from __future__ import annotations

import os
import subprocess
import urllib.request
from pathlib import Path

from cluster import build, configs, layout, processes
from cluster.layout import state

SYSCTLS = {"net/ipv4/ip_forward": "1", "net/bridge/bridge-nf-call-iptables": "1",
           "net/bridge/bridge-nf-call-ip6tables": "1"}
CTR = ["ctr", "--address", str(layout.RUNTIME / "containerd.sock"), "--namespace", "k8s.io"]


def prepare_kernel() -> None:
    for key, value in SYSCTLS.items():
        Path("/proc/sys", key).write_text(value)


def start_containerd() -> None:
    layout.RUNTIME.mkdir(parents=True, exist_ok=True)
    config = configs.containerd(configs.cni_network())
    processes.start("containerd", ["containerd", "--config", str(config)])
    processes.wait_until("containerd", lambda: _ctr_answers(), 60, "containerd answering")


def start_kubelet(binaries: Path, node_ip: str, server: str) -> None:
    kubeconfig = configs.kubeconfig("kubelet", server)
    processes.start("kubelet", [
        str(binaries / "kube"), "kubelet", f"--config={configs.kubelet(node_ip)}", f"--kubeconfig={kubeconfig}",
        f"--hostname-override={layout.NODE}", f"--node-ip={node_ip}", f"--root-dir={state('kubelet', '.keep').parent}",
        "--v=1",
    ])


def start_kube_proxy(binaries: Path, server: str) -> None:
    config = configs.kube_proxy(configs.kubeconfig("kube-proxy", server))
    processes.start("kube-proxy", [str(binaries / "kube"), "kube-proxy", f"--config={config}", "--v=1"])


def start_network_policies(server: str) -> None:
    """kube-router's firewall alone (no routing, no service proxy), as its kube-router-firewall DaemonSet runs
    it beside another CNI: it enforces NetworkPolicies with iptables rules and ipsets on pod traffic, which
    crosses the bridge's netfilter hooks (SYSCTLS)."""
    kubeconfig = configs.kubeconfig("kube-router", server)
    processes.start("kube-router", [
        str(build.binaries("kube-router") / "kube-router"), "--run-router=false", "--run-firewall=true",
        "--run-service-proxy=false", f"--kubeconfig={kubeconfig}", f"--hostname-override={layout.NODE}",
        f"--health-port={layout.KUBE_ROUTER_HEALTH_PORT}", "--metrics-port=0", "--v=1"])
    processes.wait_until("kube-router", _kube_router_healthy, 120, "its health check passing")


def _kube_router_healthy() -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{layout.KUBE_ROUTER_HEALTH_PORT}/healthz", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def stop(binaries: Path | None) -> None:
    """Stop the node's processes and remove every trace of its pods from the machine."""
    if processes.running("kube-router"):
        processes.stop("kube-router")
        subprocess.run([str(build.binary_folder("kube-router") / "kube-router"), "--cleanup-config"],
                       capture_output=True)
    processes.stop("kube-proxy")
    processes.stop("kubelet")
    if processes.running("containerd"):
        _remove_containers()
    processes.stop("containerd")
    _kill_shims()
    _unmount_under(layout.STATE, layout.RUNTIME)
    _remove_pod_networks()
    if binaries is not None and (binaries / "kube").exists():
        subprocess.run([str(binaries / "kube"), "kube-proxy", "--cleanup"], capture_output=True)


def _ctr_answers() -> bool:
    return subprocess.run([*CTR, "version"], capture_output=True).returncode == 0


def _remove_containers() -> None:
    """Kill and remove every container the kubelet made, pause sandboxes included; the images stay."""
    listed = subprocess.run([*CTR, "containers", "list", "--quiet"], capture_output=True, text=True).stdout.split()
    for container in listed:
        subprocess.run([*CTR, "tasks", "kill", "--signal", "SIGKILL", container], capture_output=True)
    for container in listed:
        subprocess.run([*CTR, "tasks", "delete", "--force", container], capture_output=True)
        subprocess.run([*CTR, "containers", "delete", container], capture_output=True)


def _kill_shims() -> None:
    """containerd's shims outlive it by design; end those of this cluster's containerd."""
    marker = str(layout.RUNTIME / "containerd.sock").encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read()
        except OSError:
            continue
        if b"containerd-shim" in command and marker in command:
            try:
                os.killpg(int(entry), 9)
            except ProcessLookupError:
                pass


def _unmount_under(*folders: Path) -> None:
    """Lazily unmount, deepest first, what pods mounted under these folders (volumes, rootfs overlays)."""
    prefixes = tuple(str(folder.resolve()) + "/" for folder in folders)
    with open("/proc/self/mountinfo") as handle:
        mounts = [line.split()[4] for line in handle]
    for mount in sorted((m for m in mounts if m.startswith(prefixes)), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", mount], capture_output=True)


def _remove_pod_networks() -> None:
    """The pods' network namespaces, the bridge, and the NAT chains CNI's bridge plugin added for pods."""
    netns = Path("/var/run/netns")
    if netns.exists():
        for name in os.listdir(netns):
            if name.startswith("cni-"):
                subprocess.run(["ip", "netns", "delete", name], capture_output=True)
    subprocess.run(["ip", "link", "delete", layout.BRIDGE], capture_output=True)
    listed = subprocess.run(["iptables", "-t", "nat", "-L", "POSTROUTING", "-n", "--line-numbers"],
                            capture_output=True, text=True).stdout.splitlines()
    numbered = [line.split() for line in listed if line[:1].isdigit()]
    chains = {fields[1] for fields in numbered if fields[1].startswith("CNI-")}
    for fields in reversed(numbered):  # deleting by number from the end keeps the others' numbers
        if fields[1].startswith("CNI-"):
            subprocess.run(["iptables", "-t", "nat", "-D", "POSTROUTING", fields[0]], capture_output=True)
    for action in ("-F", "-X"):
        for chain in chains:
            subprocess.run(["iptables", "-t", "nat", action, chain], capture_output=True)
