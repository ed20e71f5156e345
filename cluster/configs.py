"""The files the components read: kubeconfigs, containerd's, the kubelet's, kube-proxy's and the CNI network's.

What is specific to this machine, and why:
- cgroups are v1 and PID 1 is not systemd, so containerd (runc) and the kubelet use the `cgroupfs` driver;
- the kernel has no IPVS, so kube-proxy runs in iptables mode;
- nothing is pulled: images are imported into containerd beforehand, and the pause image is one of them;
- image garbage collection is off, since an image deleted here could not be pulled back.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path

import yaml

from cluster import layout
from cluster.layout import state

PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
CAP_SYS_RESOURCE = 24


def kubeconfig(identity: str, server: str) -> Path:
    """A kubeconfig for one identity of cluster/pki.py, with its certificates inline (it can be copied anywhere)."""
    pki = layout.STATE / "pki"

    def inline(name: str) -> str:
        return base64.b64encode((pki / name).read_bytes()).decode()

    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "hubml-test",
        "clusters": [{"name": "hubml-test", "cluster": {"server": server,
                                                         "certificate-authority-data": inline("ca.crt")}}],
        "users": [{"name": identity, "user": {"client-certificate-data": inline(f"{identity}.crt"),
                                              "client-key-data": inline(f"{identity}.key")}}],
        "contexts": [{"name": "hubml-test", "context": {"cluster": "hubml-test", "user": identity}}],
    }
    return _write(state("kubeconfigs", f"{identity}.yaml"), yaml.safe_dump(config), 0o600)


def containerd(cni_config_dir: Path) -> Path:
    root = layout.CACHE / "containerd"
    config = f"""version = 2
root = "{root}"
state = "{layout.RUNTIME / 'containerd'}"
[grpc]
  address = "{layout.RUNTIME / 'containerd.sock'}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  # Even root lacks CAP_SYS_RESOURCE in some VMs (this one): no process may lower its oom_score_adj, so
  # containerd clamps the kubelet's negative scores (sandboxes -998, Guaranteed pods -997) at its own.
  restrict_oom_score_adj = {"false" if can_lower_oom_score() else "true"}
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni_config_dir}"
"""
    return _write(state("containerd", "config.toml"), config)


def audit_policy() -> Path:
    """Record each request of a service account outside kube-system, once, as it arrives.

    The tests count what hubml's client sends (a refresh at 1,000 jobs) as the API server saw it; the
    controllers and the kubelet, which talk far more, stay out of the log.
    """
    policy = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy",
              "omitStages": ["ResponseStarted", "ResponseComplete", "Panic"],
              "rules": [{"level": "None", "userGroups": ["system:serviceaccounts:kube-system"]},
                        {"level": "Metadata", "userGroups": ["system:serviceaccounts"]},
                        {"level": "None"}]}
    return _write(state("audit", "policy.yaml"), yaml.safe_dump(policy))


def _write(path: Path, text: str, mode: int = 0o644) -> Path:
    """Write only a change: kube-proxy (and others) restart when their configuration file is touched."""
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    path.chmod(mode)
    return path


def can_lower_oom_score() -> bool:
    """Whether this process may set a negative oom_score_adj (it needs CAP_SYS_RESOURCE)."""
    with open("/proc/self/status") as handle:
        effective = next(int(line.split()[1], 16) for line in handle if line.startswith("CapEff:"))
    return bool(effective & (1 << CAP_SYS_RESOURCE))


def cni_network() -> Path:
    """A bridge with host-local addresses from the node's pod range; the bridge is the pods' gateway and NATs out."""
    config = {"cniVersion": "1.0.0", "name": "hubml", "plugins": [
        {"type": "bridge", "bridge": layout.BRIDGE, "isGateway": True, "ipMasq": True, "hairpinMode": True,
         "ipam": {"type": "host-local", "ranges": [[{"subnet": layout.POD_CIDR}]], "routes": [{"dst": "0.0.0.0/0"}],
                  "dataDir": str(state("cni", "ipam"))}},
        {"type": "portmap", "capabilities": {"portMappings": True}},
    ]}
    return _write(state("cni", "net.d", "10-hubml.conflist"), json.dumps(config, indent=1)).parent


def kubelet(node_ip: str) -> Path:
    pki = layout.STATE / "pki"
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                           "x509": {"clientCAFile": str(pki / "ca.crt")}},
        "authorization": {"mode": "Webhook"},
        "address": node_ip,
        "tlsCertFile": str(pki / "kubelet-serving.crt"), "tlsPrivateKeyFile": str(pki / "kubelet-serving.key"),
        "cgroupDriver": "cgroupfs",
        "containerRuntimeEndpoint": f"unix://{layout.RUNTIME / 'containerd.sock'}",
        "clusterDNS": [layout.DNS_SERVICE_IP], "clusterDomain": layout.CLUSTER_DOMAIN,
        "podLogsDir": str(state("pod-logs", ".keep").parent),
        "failSwapOn": False,
        "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
        # Pods must never be evicted because the development machine's disk is busy with other things.
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "serializeImagePulls": False,
        "staticPodPath": "",
        "maxPods": 110,
        "containerLogMaxSize": "10Mi",
        "syncFrequency": "10s",
    }
    return _write(state("kubelet.yaml"), yaml.safe_dump(config))


def kube_proxy(kubeconfig_path: Path) -> Path:
    config = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
        "mode": "iptables", "clusterCIDR": layout.CLUSTER_CIDR, "hostnameOverride": layout.NODE,
        "clientConnection": {"kubeconfig": str(kubeconfig_path)},
        "bindAddress": "0.0.0.0", "metricsBindAddress": "127.0.0.1:10249", "healthzBindAddress": "127.0.0.1:10256",
        # Leave the machine's conntrack table size alone: the VM's defaults suffice for one node.
        "conntrack": {"maxPerCore": 0},
    }
    return _write(state("kube-proxy.yaml"), yaml.safe_dump(config))
