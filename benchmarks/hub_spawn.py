"""How long a notebook server takes to spawn on the real test cluster (`make cluster-hub`): from the REST call that
starts it to the server answering through the hub's proxy, against a bare pod of the same notebook image running
`jupyter server` (Kubernetes' own start of the same container, with no hub, spawner or volume) in the same run.

    make bench-hub                                   # installs the chart if needed, then runs this
    .venv/bin/python benchmarks/hub_spawn.py [--spawns N]

The images are present on the node (they are imported, never pulled). The first spawn of a new user also makes
their namespace and provisions their home volume, and is reported on its own row; the p50 and p90 rows are
over N restarts of that user's server. Prints a table and a last line `spawn_p50_s=… bare_pod_p50_s=…`.
"""
from __future__ import annotations

import argparse
import secrets
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from job_latency import percentile  # noqa: E402  (the benchmarks' one percentile; this folder is on sys.path)
SECONDS = 300.0
PROFILE = {"profile": "cpu-small"}


def until(condition, what: str) -> None:
    deadline = time.monotonic() + SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def spawn(hub, user: str) -> float:
    """Seconds from the start request to the server answering through the proxy."""
    import requests

    started = time.perf_counter()
    answer = hub.request("POST", f"users/{user}/server", json=PROFILE)
    if answer.status_code not in (201, 202):
        raise RuntimeError(f"the hub refused the spawn: {answer.text}")

    def answering() -> bool:
        try:
            return hub.server(user, "api/status").status_code == 200
        except requests.RequestException:
            return False

    until(answering, f"{user}'s server answering through the proxy")
    seconds = time.perf_counter() - started
    hub.stop(user, SECONDS)
    return seconds


def bare_pod(core, namespace: str, image: str) -> float:
    """Seconds from creating a pod of the notebook image running `jupyter server` to it answering."""
    import requests

    name = f"bare-{secrets.token_hex(3)}"
    # The home is an emptyDir where the hub's pod has its volume: Jupyter writes its runtime files there.
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
        "volumes": [{"name": "home", "emptyDir": {}}],
        "containers": [{"name": "notebook", "image": image, "command": [
            "jupyter", "server", "--ip=0.0.0.0", "--port=8888", "--ServerApp.token=", "--ServerApp.password=",
            "--ServerApp.disable_check_xsrf=True"],
            "volumeMounts": [{"name": "home", "mountPath": "/home/jovyan"}],
            "resources": {"requests": {"cpu": "500m", "memory": "2G"}, "limits": {"memory": "8G"}}}]}}
    started = time.perf_counter()
    core.create_namespaced_pod(namespace, pod)

    def answering() -> bool:
        ip = core.read_namespaced_pod(name, namespace).status.pod_ip
        try:
            return bool(ip) and requests.get(f"http://{ip}:8888/api/status", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    until(answering, f"pod {name} answering")
    seconds = time.perf_counter() - started
    core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spawns", type=int, default=5)
    spawns = parser.parse_args().spawns
    from kubernetes import client as k8s

    from cluster import addons, hub, images

    environment = hub.install(verbose=False)
    api = hub.HubAPI(environment["HUB_URL"], environment["HUB_API_TOKEN"])
    core = k8s.CoreV1Api(addons.admin_client(str(hub.lifecycle.admin_kubeconfig())))
    user = f"bench{secrets.token_hex(3)}"
    peer_namespace = f"hubml-bench-peer-{secrets.token_hex(2)}"
    core.create_namespace({"metadata": {"name": peer_namespace}})
    try:
        api.request("POST", f"users/{user}")
        first = spawn(api, user)
        restarts = [spawn(api, user) for _ in range(spawns)]
        print(f"hub spawns: first {first:.2f} s, restarts {', '.join(f'{s:.2f}' for s in restarts)} s", flush=True)
        peers = [bare_pod(core, peer_namespace, images.NOTEBOOK_IMAGE) for _ in range(spawns)]
    finally:
        api.request("DELETE", f"users/{user}")
        for namespace in (f"hubml-{user}", peer_namespace):
            core.delete_namespace(namespace)
    rows = [("hub spawn, new user (namespace, volume)", first, first),
            (f"hub spawn, p50 / p90 of {spawns} restarts", percentile(restarts, 0.5), percentile(restarts, 0.9)),
            (f"bare pod, same image, p50 / p90 of {spawns}", percentile(peers, 0.5), percentile(peers, 0.9))]
    print(f"{'':45} {'p50 s':>7} {'p90 s':>7}")
    for label, p50, p90 in rows:
        print(f"{label:45} {p50:7.2f} {p90:7.2f}")
    print(f"spawn_first_s={first:.2f} spawn_p50_s={rows[1][1]:.2f} spawn_p90_s={rows[1][2]:.2f} "
          f"bare_pod_p50_s={rows[2][1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
