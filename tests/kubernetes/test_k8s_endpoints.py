"""Endpoints on the real cluster: a Deployment and a Service, ready when its pods are, answering over REST and
gRPC from the host and from a pod; and a deploy that cannot become ready fails fast and leaves nothing behind.

On this cluster endpoints run `hubml serve` from the runtime image (.cluster/env sets serving_image and
serving_command), with the same flags as the default `tensorflow/serving` image.
"""
from __future__ import annotations

import pytest
from k8s_testing import POD_SECONDS, api, left_of, wait_for

from hubml.exceptions import EndpointFailed


def test_a_default_deploy_serves_over_rest_and_grpc_and_undeploys_cleanly(kube_env, stored_model, kube_admin):
    import numpy as np

    import hubml

    client = hubml.Client()
    endpoint = client.deploy(stored_model, name="half-api", wait=True, timeout=POD_SECONDS)
    assert endpoint.state == "READY"
    (pod,) = api(kube_admin, "pods")(kube_env.name, label_selector="hubml.io/endpoint=half-api")
    requests = {c["name"]: c["resources"]["requests"] for c in [*pod["spec"]["initContainers"],
                                                                *pod["spec"]["containers"]]}
    assert requests == {"fetch-model": {"cpu": "250m", "memory": "2Gi"}, "serving": {"cpu": "250m", "memory": "2Gi"}}
    # From the host, the Service's cluster IP (kube-proxy's rules carry the host's own traffic too).
    assert endpoint.rest_url.startswith("http://10.96.")
    rows = np.array([[1.0], [2.0], [5.0]], dtype="float32")
    for protocol in ("rest", "grpc"):
        assert np.allclose(endpoint.predict(rows, protocol=protocol), [[2.5], [3.0], [4.5]]), protocol
    assert [each.name for each in client.endpoints()] == ["half-api"]
    endpoint.undeploy()
    wait_for(lambda: left_of(kube_admin, kube_env.name, "hubml.io/endpoint=half-api") == {}, POD_SECONDS,
             "nothing of the endpoint left")


def test_a_pod_in_the_cluster_reaches_the_endpoint_by_its_service_name(kube_env, stored_model):
    import hubml

    client = hubml.Client()
    endpoint = client.deploy(stored_model, name="half-api", wait=True, timeout=POD_SECONDS)
    code = f"""
from hubml.serving.client import PredictClient
dns = "half-api.{kube_env.name}.svc.cluster.local"
with PredictClient(dns + ":8500", "http://" + dns + ":8501", "half") as client:
    for protocol in ("rest", "grpc"):
        print(protocol, client.predict([[4.0]], protocol=protocol).tolist(), flush=True)
"""
    job = client.train(code, name="caller")
    job.wait(timeout=POD_SECONDS)
    lines = [line.text for line in job.logs()]
    assert "rest [[4.0]]" in lines and "grpc [[4.0]]" in lines, lines
    endpoint.undeploy()


@pytest.mark.parametrize("setting, value, words", [
    ("HUBML_K8S_SERVING_COMMAND", '["python3", "-c", "raise SystemExit(3)"]', "CrashLoopBackOff: it keeps crashing"),
    ("HUBML_K8S_SERVING_IMAGE", "registry.invalid/hubml/none:1", "its image cannot be pulled"),
], ids=["crash-loop", "no-such-image"])
def test_a_deploy_that_cannot_become_ready_fails_fast_and_leaves_nothing(kube_env, stored_model, kube_admin,
                                                                        monkeypatch, setting, value, words):
    import hubml

    monkeypatch.setenv(setting, value)
    with pytest.raises(EndpointFailed, match=words) as failure:
        hubml.Client().deploy(stored_model, name="broken", wait=True, timeout=POD_SECONDS)
    assert "removed" in str(failure.value)
    wait_for(lambda: left_of(kube_admin, kube_env.name, "hubml.io/endpoint=broken") == {}, POD_SECONDS,
             "nothing of the endpoint left")
