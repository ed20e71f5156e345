"""What the Kubernetes backend needs to know about the cluster, beyond `Settings`.

Set as `c.Kubernetes.<option>` in `hubml_config.py` (or any traitlets config
the notebook loads), or as `HUBML_K8S_<OPTION>` in the environment (dicts and
lists as JSON), which wins, as for every other hubml setting.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from typing import Any

from traitlets import Dict, Int, List, Unicode
from traitlets.config import Config, Configurable

from hubml import __version__
from hubml.exceptions import InvalidArgument


class Kubernetes(Configurable):
    runtime_image = Unicode(f"ghcr.io/hubml/runtime:{__version__}",
                            help="Image that runs jobs (and copies hubml into bring-your-own images).").tag(config=True)
    gpu_runtime_image = Unicode(f"ghcr.io/hubml/runtime:{__version__}-gpu",
                                help="Image that runs jobs asking for GPUs: the runtime image built with "
                                     "TensorFlow's CUDA wheels (images/runtime/Dockerfile, "
                                     "TENSORFLOW_EXTRAS=[and-cuda]).").tag(config=True)
    model_fetch_image = Unicode(f"ghcr.io/hubml/model-fetch:{__version__}",
                                help="Image of the endpoint's init container that copies the model from storage "
                                     "(hubml's storage layer, no TensorFlow).").tag(config=True)
    serving_image = Unicode("tensorflow/serving:2.19.1",
                            help="TF Serving image for endpoints; '-gpu' is appended for GPU endpoints.").tag(config=True)
    serving_command = List([], help="Command of the endpoint's container, before TF Serving's flags; empty for the "
                                    "image's own entrypoint (tensorflow/serving's). With the runtime image as "
                                    "serving_image, ['hubml', 'serve'] serves with hubml serve, which takes the "
                                    "same flags.").tag(config=True)
    cluster_domain = Unicode("cluster.local", help="The cluster's DNS domain, for replica addresses.").tag(config=True)
    storage_secret = Unicode("hubml-storage",
                             help="Secret whose keys (AWS_ACCESS_KEY_ID, ...) become the pods' environment; "
                                  "empty for none.").tag(config=True)
    storage_claim = Unicode("", help="PersistentVolumeClaim holding file:// storage, mounted at the same path "
                                     "in every pod; empty when storage is object storage.").tag(config=True)
    gpu_node_selector = Dict({"nvidia.com/gpu.present": "true"},
                             help="nodeSelector of GPU pods.").tag(config=True)
    gpu_tolerations = List([{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                           help="Tolerations of GPU pods.").tag(config=True)
    job_service_account = Unicode("hubml-job", help="Service account job pods run as (it needs no rights).").tag(
        config=True)
    ttl_seconds_after_finished = Int(7 * 24 * 3600, help="How long finished Jobs (and their pods' logs) "
                                                          "stay before Kubernetes removes them.").tag(config=True)
    tf_port = Int(2222, help="Port of each replica's TensorFlow server, in TF_CONFIG.").tag(config=True)


@dataclass(frozen=True)
class ClusterOptions:
    runtime_image: str
    gpu_runtime_image: str
    model_fetch_image: str
    serving_image: str
    serving_command: list[str]
    cluster_domain: str
    storage_secret: str
    storage_claim: str
    gpu_node_selector: dict[str, str]
    gpu_tolerations: list[dict[str, Any]]
    job_service_account: str
    ttl_seconds_after_finished: int
    tf_port: int

    @classmethod
    def resolve(cls, config: Config | None = None, **explicit: Any) -> ClusterOptions:
        from hubml.config import load_config_file

        configured = Kubernetes(config=config if config is not None else load_config_file())
        values = {}
        for item in fields(cls):
            value = explicit.get(item.name)
            if value is None:
                value = _from_environment(item.name, getattr(configured, item.name))
            values[item.name] = value if value is not None else getattr(configured, item.name)
        return cls(**values)


def _from_environment(name: str, default: Any) -> Any:
    variable = f"HUBML_K8S_{name.upper()}"
    raw = os.environ.get(variable)
    if raw is None:
        return None
    if isinstance(default, str):
        return raw
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise InvalidArgument(variable, f"{raw!r} is not JSON") from None
    if type(value) is not type(default):
        raise InvalidArgument(variable, f"must be a JSON {type(default).__name__}")
    return value
