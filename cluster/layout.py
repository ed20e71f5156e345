"""Where the test cluster keeps things, and the addresses it uses.

    .cluster/             this checkout's cluster: certificates, kubeconfigs, component configs, etcd's data,
                          the kubelet's folder, logs, PID files, and `env` (what hubml is pointed at)
    /run/hubml-cluster/   containerd's sockets and state: one cluster per machine, whose owner is named there
    ~/.cache/hubml-cluster/   what is built once per pinned version (binaries, images) and the image store,
                          kept by `make cluster-down` so that the next `make cluster` starts in seconds

The network is a single node's: pods on a bridge, Services through kube-proxy's
iptables rules, which also serve the host itself (it is the node), so the host
reaches pod and Service addresses directly.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STATE = REPO / ".cluster"
RUNTIME = Path("/run/hubml-cluster")
CACHE = Path(os.environ.get("HUBML_CLUSTER_CACHE") or "~/.cache/hubml-cluster").expanduser()

NODE = "hubml-node"
CLUSTER_DOMAIN = "cluster.local"
SERVICE_CIDR, API_SERVICE_IP, DNS_SERVICE_IP = "10.96.0.0/16", "10.96.0.1", "10.96.0.10"
CLUSTER_CIDR, POD_CIDR = "10.244.0.0/16", "10.244.0.0/24"
BRIDGE = "hubml0"
API_PORT = 6443
ETCD_CLIENT_PORT, ETCD_PEER_PORT = 2379, 2380
S3_PORT = 8333
KUBE_ROUTER_HEALTH_PORT = 20244


def node_ip() -> str:
    """The address of the interface the default route leaves by: pods reach the host (API server, S3) there."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.254", 9))  # no packet is sent: connect() on UDP only picks the route
        return probe.getsockname()[0]


def state(*parts: str) -> Path:
    path = STATE.joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
