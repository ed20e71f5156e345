"""The KServe peer of benchmarks/serving.py: KServe's Python `ModelServer` with a small
custom `kserve.Model` wrapping the same SavedModel, as a KServe user would write it.

Runs in its own virtualenv (.bench-venv/, built by `make bench`):
    .bench-venv/bin/python benchmarks/kserve_mlp.py MODEL_DIR --http_port P --grpc_port G
It answers KServe's v1 protocol, `POST /v1/models/mlp:predict` with `{"instances": [...]}`.
"""
import sys

import kserve
import numpy as np
import tensorflow as tf


class SavedModelMLP(kserve.Model):
    def __init__(self, name: str, path: str):
        super().__init__(name)
        self.path = path
        self.load()

    def load(self) -> bool:
        self.function = tf.saved_model.load(self.path).signatures["serving_default"]
        self.input_name = next(iter(self.function.structured_input_signature[1]))
        self.ready = True
        return self.ready

    def predict(self, payload, headers=None):
        rows = tf.constant(np.asarray(payload["instances"], dtype=np.float32))
        outputs = self.function(**{self.input_name: rows})
        return {"predictions": next(iter(outputs.values())).numpy().tolist()}


if __name__ == "__main__":
    model_dir = sys.argv.pop(1)  # the rest are KServe's own flags (parsed by kserve.model_server)
    kserve.ModelServer().start([SavedModelMLP("mlp", model_dir)])
