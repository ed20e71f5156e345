"""The `Endpoint` handle: addresses, state, versions, predict, metadata, undeploy.

It calls the model through `hubml.serving.client.PredictClient`, which speaks
only TF Serving's own protocols, so the same handle works against `hubml serve`
on the local backend and the `tensorflow/serving` image on Kubernetes.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from hubml.backends.base import ENDPOINT_FAILED, ENDPOINT_READY
from hubml.exceptions import EndpointFailed, NotFound, ServingError

if TYPE_CHECKING:
    from hubml.client import Client
    from hubml.serving.client import PredictClient

READY_TIMEOUT_SECONDS = 300.0
READY_POLL_SECONDS = 0.25


class Endpoint:
    def __init__(self, client: Client, record: dict[str, Any]):
        self.client = client
        self._record = record
        self._predict_client: PredictClient | None = None

    @property
    def name(self) -> str:
        return self._record["name"]

    @property
    def record(self) -> dict[str, Any]:
        """The latest record from the backend: state and versions change while it runs."""
        self._record = self.client.backend.endpoint(self.name)
        return self._record

    @property
    def state(self) -> str:
        return self.record["state"]

    @property
    def versions(self) -> list[int]:
        return self.record["versions"]

    @property
    def model(self) -> str:
        """The name the model is served under: `{rest_url}/v1/models/{model}`."""
        return self._record["model"]

    @property
    def rest_url(self) -> str:
        return self._record["rest_url"]

    @property
    def grpc_target(self) -> str:
        return self._record["grpc_target"]

    @property
    def predict_url(self) -> str:
        return f"{self.rest_url}/v1/models/{self.model}:predict"

    def predict(self, instances: Any, protocol: str = "grpc", signature_name: str | None = None,
                version: int | None = None) -> Any:
        """Call the model: an array-like (one-input signatures) or a dict of named inputs.

        Returns a numpy array for single-output signatures, else a dict of arrays.
        """
        return self._call("predict", instances, signature_name=signature_name, version=version, protocol=protocol)

    def metadata(self, protocol: str = "grpc", version: int | None = None) -> dict[str, Any]:
        """TF Serving's model metadata (`model_spec`, `metadata.signature_def`)."""
        return self._call("metadata", version=version, protocol=protocol)

    def example_request(self, signature_name: str = "serving_default") -> dict[str, Any]:
        """A predict body shaped and typed as the served signature asks (REST metadata: no TensorFlow import)."""
        from hubml.serving.examples import example_request

        return example_request(self.metadata(protocol="rest"), signature_name)

    def traffic(self) -> dict[str, Any]:
        """Requests served, failed and their mean latency, from the server's Prometheus metrics."""
        import urllib.request

        from hubml.serving.metrics import METRICS_PATH, traffic

        with urllib.request.urlopen(self.rest_url + METRICS_PATH, timeout=5) as response:
            return traffic(response.read().decode(), self.model)

    def predict_client(self) -> PredictClient:
        """One client per handle, kept: its gRPC channel and the signature it read are reused."""
        from hubml.serving.client import PredictClient

        if self._predict_client is None:
            self._predict_client = PredictClient(self.grpc_target, self.rest_url, self.model)
        return self._predict_client

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call the predict client, once more on a new one if the server was unreachable.

        A server restarted since the last call (on the same address) leaves the
        old client a dead keep-alive connection or a channel in back-off.
        """
        try:
            return getattr(self.predict_client(), method)(*args, **kwargs)
        except ServingError as error:
            if error.code != "UNAVAILABLE":
                raise
            self._close_predict_client()
            return getattr(self.predict_client(), method)(*args, **kwargs)

    def _close_predict_client(self) -> None:
        if self._predict_client is not None:
            self._predict_client.close()
            self._predict_client = None

    def wait_ready(self, timeout: float | None = READY_TIMEOUT_SECONDS, remove_if_failed: bool = False) -> Endpoint:
        """Block until the endpoint serves a version; raise `EndpointFailed` if it fails or time runs out.

        With `remove_if_failed`, an endpoint that failed, or was not ready in time, is undeployed first.
        """
        deadline = None if timeout is None else time.time() + timeout
        while True:
            record = self.record
            if record["state"] == ENDPOINT_READY:
                return self
            if record["state"] == ENDPOINT_FAILED:
                reason = record.get("reason") or "it stopped"
                if remove_if_failed:
                    self.undeploy()
                    reason += "\n(the failed endpoint was removed)"
                raise EndpointFailed(self.name, record["state"], reason)
            if deadline is not None and time.time() > deadline:
                reason = f"not ready after {timeout:g} s" + (f" ({record['reason']})" if record.get("reason") else "")
                if remove_if_failed:  # the deploy failed: nothing it started is left behind
                    self.undeploy()
                    reason += "\n(the endpoint was removed)"
                raise EndpointFailed(self.name, record["state"], reason)
            time.sleep(READY_POLL_SECONDS)

    def undeploy(self) -> None:
        self._close_predict_client()
        self.client.backend.undeploy(self.name)

    def to_json(self) -> dict[str, Any]:
        """The JSON model the server extension and the sidebar share: the live record."""
        return dict(self.record)

    def __repr__(self) -> str:
        try:
            record = self.record
        except NotFound:
            return f"Endpoint {self.name} (undeployed)"
        versions = ", ".join(str(v) for v in record["versions"]) or "none yet"
        text = (f"Endpoint {self.name} {record['state']}: model {record['model']} (versions {versions}) from "
                f"{record['model_uri']}\n  REST {self.predict_url}\n  gRPC {self.grpc_target}")
        return text + (f"\n  {record['reason']}" if record.get("reason") else "")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    # --- rich display: a live widget in a notebook, plain text under papermill and in a terminal ---

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from hubml.extension.display import mimebundle

        return mimebundle(self)


def split_request_body(payload: Any) -> tuple[Any, str | None]:
    """(instances or inputs, signature name) of TF Serving's REST body; any other payload is the instances."""
    if isinstance(payload, dict) and ("instances" in payload or "inputs" in payload):
        return payload.get("instances", payload.get("inputs")), payload.get("signature_name")
    return payload, None


def jsonable(value: Any) -> Any:
    """Predict results (numpy arrays, dicts of them, bytes) as JSON values."""
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list):
        return [jsonable(item) for item in value]
    return value.decode(errors="replace") if isinstance(value, bytes) else value
