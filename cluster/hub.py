"""`make cluster-hub`: hubml's chart (helm/hubml) installed on the test cluster with Helm itself.

    install:   the hub's images (built offline, like the runtime's) -> namespace `hubml-system`, labelled for
               Pod Security `restricted` -> `helm upgrade --install` with test values (storage: the cluster's
               S3 server; the proxy on a node port) -> the hub answering through the proxy
               -> HUB_URL and HUB_API_TOKEN in .cluster/env
    uninstall: `helm uninstall`, then the namespaces the hub made for its users, which Helm never owned

`HubAPI` drives the installed hub's REST API as automation does (tests, benchmarks/hub_spawn.py).
The `helm` binary is built from its Go module (cluster/components/helm) like the cluster's own binaries.
"""
from __future__ import annotations

import json
import secrets
import subprocess
import tempfile
import time
from typing import Any, Callable

from cluster import addons, build, images, layout, lifecycle, node, storage
from cluster.layout import state

RELEASE, NAMESPACE = "hubml", "hubml-system"
CHART = layout.REPO / "helm" / "hubml"
NODE_PORT = 30080
HUB_READY_SECONDS = 300.0
# The hub's namespace runs only the hub and its proxy, which meet the strictest level.
HUB_POD_SECURITY = {"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/warn": "restricted"}
RECORD = "hub.json"  # read by lifecycle.describe() into .cluster/env


def helm(*arguments: str, namespace: str = NAMESPACE) -> str:
    """Run the `helm` built here against the test cluster, as its administrator."""
    command = [str(build.binaries("helm") / "helm"), "--kubeconfig", str(lifecycle.admin_kubeconfig()),
               "--namespace", namespace, *arguments]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise lifecycle.ClusterError(f"helm {arguments[0]} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def test_values(node_ip: str, api_token: str, password: str) -> dict[str, Any]:
    """The chart's values on the test cluster: its S3 server, the proxy on a node port, jobs sized for the node."""
    return {
        "hub": {"password": password, "apiToken": api_token,
                "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}},
        "proxy": {"service": {"type": "NodePort", "nodePort": NODE_PORT},
                  "chp": {"resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}}}},
        "singleuser": {"extraEnv": addons.hubml_environment()},
        "storage": {"s3": {"bucket": storage.BUCKET, "endpoint": storage.endpoint(node_ip),
                           "accessKeyId": storage.ACCESS_KEY, "secretAccessKey": storage.SECRET_KEY}},
    }


def install(values: dict[str, Any] | None = None, release: str = RELEASE, namespace: str = NAMESPACE,
            verbose: bool = True) -> dict[str, str]:
    """Install or upgrade the chart, `values` merged over the test values, and wait until the hub answers on its
    node port. Returns its HUB_URL, HUB_API_TOKEN and HUB_PASSWORD; the default release's also go to .cluster/env
    (and are kept across upgrades)."""
    say = print if verbose else (lambda *_, **__: None)
    started = time.monotonic()
    cluster = lifecycle.up(verbose)
    images.ensure_imported(images.hub_images(), node.CTR)
    api = addons.admin_client(str(cluster.kubeconfig))
    addons.apply(api, [{"apiVersion": "v1", "kind": "Namespace",
                        "metadata": {"name": namespace, "labels": dict(HUB_POD_SECURITY)}}])
    recorded = recorded_environment() if release == RELEASE else {}
    generated = test_values(cluster.node_ip, recorded.get("HUB_API_TOKEN") or secrets.token_hex(32),
                            recorded.get("HUB_PASSWORD") or secrets.token_hex(16))
    merged = _merge(generated, values or {})
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(merged, file)
        file.flush()
        helm("upgrade", "--install", release, str(CHART), "--values", file.name, "--wait", "--timeout", "5m",
             namespace=namespace)
    environment = {"HUB_URL": f"http://{cluster.node_ip}:{merged['proxy']['service']['nodePort']}",
                   "HUB_API_TOKEN": merged["hub"]["apiToken"], "HUB_PASSWORD": merged["hub"]["password"]}
    wait_for_hub(environment["HUB_URL"], environment["HUB_API_TOKEN"])
    if release == RELEASE:
        state(RECORD).write_text(json.dumps(environment))
        lifecycle.describe(cluster.node_ip)  # .cluster/env, now with the hub's address and token
    say(f"cluster: the hub answers at {environment['HUB_URL']} after {time.monotonic() - started:.0f} s", flush=True)
    return environment


def uninstall(release: str = RELEASE, namespace: str = NAMESPACE) -> list[str]:
    """`helm uninstall`, then the user namespaces the hub made (homes and work included). Returns those removed."""
    from kubernetes import client as k8s

    recorded = recorded_environment() if release == RELEASE else {}
    users = _hub_users(recorded) if recorded else []
    if release in helm("list", "--short", namespace=namespace).split():
        helm("uninstall", release, "--wait", "--timeout", "5m", namespace=namespace)
    core = k8s.CoreV1Api(addons.admin_client(str(lifecycle.admin_kubeconfig())))
    removed = [f"hubml-{user}" for user in users]
    for name in [*removed, namespace]:
        try:
            core.delete_namespace(name)
        except k8s.ApiException as error:
            if error.status != 404:
                raise
    if release == RELEASE:
        state(RECORD).unlink(missing_ok=True)
        lifecycle.describe(layout.node_ip())
    return removed


def recorded_environment() -> dict[str, str]:
    """HUB_URL, HUB_API_TOKEN and HUB_PASSWORD of the installed hub, or {}."""
    path = layout.STATE / RECORD
    return json.loads(path.read_text()) if path.exists() else {}


def wait_for_hub(url: str, api_token: str) -> None:
    """Until the hub's REST API answers through the proxy, with the admin token accepted."""
    import requests

    hub = HubAPI(url, api_token)
    deadline = time.monotonic() + HUB_READY_SECONDS
    last = ""
    while time.monotonic() < deadline:
        try:
            answer = hub.request("GET", "users")
            if answer.status_code == 200:
                return
            last = f"{answer.status_code} {answer.text[:200]}"
        except requests.RequestException as error:
            last = str(error)
        time.sleep(0.5)
    raise lifecycle.ClusterError(f"the hub did not answer at {url}/hub/api/users within {HUB_READY_SECONDS:g} s: "
                                 f"{last}; see `kubectl -n {NAMESPACE} logs deploy/hub`")


def _hub_users(recorded: dict[str, str]) -> list[str]:
    import requests

    try:
        answer = HubAPI(recorded["HUB_URL"], recorded["HUB_API_TOKEN"]).request("GET", "users")
        return [user["name"] for user in answer.json()] if answer.status_code == 200 else []
    except requests.RequestException:
        return []  # no hub answering: it made no namespaces this call could name


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Helm's merge of values files: maps merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in overrides.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) \
            else value
    return merged


class HubAPI:
    """JupyterHub's REST API with an admin service's token, as automation drives it; `server()` reaches a
    user's server through the hub's proxy with the same token."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token

    def request(self, method: str, path: str, **options: Any) -> Any:
        return self._send(method, f"hub/api/{path}", **options)

    def server(self, user: str, path: str, method: str = "GET", **options: Any) -> Any:
        return self._send(method, f"user/{user}/{path}", **options)

    def _send(self, method: str, path: str, **options: Any) -> Any:
        import requests

        return requests.request(method, f"{self.url}/{path}", timeout=30,
                                headers={"Authorization": f"token {self.token}"}, **options)

    def user(self, name: str) -> dict:
        response = self.request("GET", f"users/{name}")
        response.raise_for_status()
        return response.json()

    def start(self, name: str, options: dict, timeout: float) -> None:
        """Create the user if new, start their server with `options`, and wait until the hub calls it ready."""
        created = self.request("POST", f"users/{name}")
        if created.status_code not in (201, 409):
            raise lifecycle.ClusterError(f"the hub refused to create {name}: {created.text}")
        started = self.request("POST", f"users/{name}/server", json=options)
        if started.status_code not in (201, 202):
            raise lifecycle.ClusterError(f"the hub refused to start {name}'s server: {started.text}")
        self.wait(name, lambda server: server and server.get("ready"), timeout, "the server ready")

    def stop(self, name: str, timeout: float) -> None:
        stopped = self.request("DELETE", f"users/{name}/server")
        if stopped.status_code not in (202, 204):
            raise lifecycle.ClusterError(f"the hub refused to stop {name}'s server: {stopped.text}")
        self.wait(name, lambda server: server is None, timeout, "the server stopped")

    def wait(self, name: str, condition: Callable[[dict | None], object], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while True:
            user = self.user(name)
            if condition(user["servers"].get("")) and user["pending"] is None:
                return
            if time.monotonic() > deadline:
                raise lifecycle.ClusterError(f"timed out after {timeout} s waiting for {what} of {name}; last seen: {user}")
            time.sleep(0.25)
