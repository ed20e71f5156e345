"""etcd and the control plane: kube-apiserver, kube-controller-manager and kube-scheduler.

The API server runs the admission plugins a real cluster runs by default
(ResourceQuota, LimitRanger, PodSecurity, ServiceAccount, ... ) plus
NodeRestriction, authorizes with Node and RBAC, and signs service-account
tokens, so what it refuses here it refuses on any conformant cluster.
"""
from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from pathlib import Path

from cluster import configs, layout, processes
from cluster.layout import state

API_READY_SECONDS = 120.0


def etcd_url() -> str:
    return f"http://127.0.0.1:{layout.ETCD_CLIENT_PORT}"


def start_etcd(binaries: Path) -> None:
    processes.start("etcd", [
        str(binaries / "etcd"), "--name=hubml", f"--data-dir={state('etcd', '.keep').parent / 'data'}",
        f"--listen-client-urls={etcd_url()}", f"--advertise-client-urls={etcd_url()}",
        f"--listen-peer-urls=http://127.0.0.1:{layout.ETCD_PEER_PORT}",
        f"--initial-advertise-peer-urls=http://127.0.0.1:{layout.ETCD_PEER_PORT}",
        f"--initial-cluster=hubml=http://127.0.0.1:{layout.ETCD_PEER_PORT}",
        # A test cluster's data need not survive a power cut; fsync on every write costs seconds per test.
        "--unsafe-no-fsync", "--quota-backend-bytes=4294967296", "--log-level=warn",
    ])
    processes.wait_until("etcd", lambda: _answers(f"{etcd_url()}/health"), 60, "etcd answering /health")


def audit_log() -> Path:
    """Where the API server logs service accounts' requests (configs.audit_policy), one JSON line each."""
    return state("audit", "audit.log")


def start_api_server(binaries: Path, node_ip: str) -> None:
    pki = layout.STATE / "pki"
    processes.start("kube-apiserver", [
        str(binaries / "kube"), "kube-apiserver",
        f"--etcd-servers={etcd_url()}",
        "--bind-address=0.0.0.0", f"--secure-port={layout.API_PORT}", f"--advertise-address={node_ip}",
        f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
        f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
        f"--service-cluster-ip-range={layout.SERVICE_CIDR}",
        f"--service-account-issuer=https://kubernetes.default.svc.{layout.CLUSTER_DOMAIN}",
        f"--service-account-key-file={pki / 'service-accounts.pub'}",
        f"--service-account-signing-key-file={pki / 'service-accounts.key'}",
        "--authorization-mode=Node,RBAC",
        # The node registers by name, which only cluster DNS knows: reach kubelets (logs, exec) by address.
        "--kubelet-preferred-address-types=InternalIP,Hostname",
        # The default plugins stay on (NamespaceLifecycle, LimitRanger, ServiceAccount, ResourceQuota,
        # PodSecurity, ...); NodeRestriction is the one a kubeadm cluster adds.
        "--enable-admission-plugins=NodeRestriction",
        f"--audit-policy-file={configs.audit_policy()}", f"--audit-log-path={audit_log()}",
        "--audit-log-maxsize=200", "--audit-log-maxbackup=1",
        # Pod templates are the one kind hubml never uses: uncached, a watch on them reads etcd itself, so a
        # test can make the `410 Gone` that a compaction gives a watch which fell behind (tests/kubernetes).
        "--watch-cache-sizes=podtemplates#0",
        "--allow-privileged=true", "--profiling=false", "--v=1",
    ])
    processes.wait_until("kube-apiserver", api_ready, API_READY_SECONDS, "the API server answering /readyz")


def start_controllers(binaries: Path, server: str) -> None:
    pki = layout.STATE / "pki"
    controller_manager = configs.kubeconfig("controller-manager", server)
    processes.start("kube-controller-manager", [
        str(binaries / "kube"), "kube-controller-manager",
        f"--kubeconfig={controller_manager}", f"--authentication-kubeconfig={controller_manager}",
        f"--authorization-kubeconfig={controller_manager}",
        f"--service-account-private-key-file={pki / 'service-accounts.key'}", f"--root-ca-file={pki / 'ca.crt'}",
        f"--cluster-signing-cert-file={pki / 'ca.crt'}", f"--cluster-signing-key-file={pki / 'ca.key'}",
        # Each controller acts as its own service account, with the rights upstream's bootstrap policy gives it.
        "--use-service-account-credentials=true",
        "--leader-elect=false", "--bind-address=127.0.0.1", "--profiling=false", "--v=1",
    ])
    scheduler = configs.kubeconfig("scheduler", server)
    processes.start("kube-scheduler", [
        str(binaries / "kube"), "kube-scheduler", f"--kubeconfig={scheduler}",
        f"--authentication-kubeconfig={scheduler}", f"--authorization-kubeconfig={scheduler}",
        "--leader-elect=false", "--bind-address=127.0.0.1", "--profiling=false", "--v=1",
    ])
    for name, port in (("kube-controller-manager", 10257), ("kube-scheduler", 10259)):
        processes.wait_until(name, lambda port=port: _answers(f"https://127.0.0.1:{port}/healthz", insecure=True),
                             60, "answering /healthz")


def api_ready() -> bool:
    return _answers(f"https://127.0.0.1:{layout.API_PORT}/readyz", admin=True)


def _answers(url: str, admin: bool = False, insecure: bool = False) -> bool:
    context = None
    if url.startswith("https"):
        pki = layout.STATE / "pki"
        if insecure:  # a component's own self-signed serving certificate, on loopback
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        else:
            context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        if admin:
            context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False
