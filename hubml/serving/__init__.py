"""hubml serve: a TensorFlow-Serving-compatible model server, and the predict client."""
from __future__ import annotations

import logging
import os
import sys


def prepare_server_process(log_prefix: str = "") -> None:
    """Before TensorFlow loads in a `hubml serve` process (the first one or a REST worker):
    quiet C++ logs, one log format, and no Keras: `import tensorflow` imports it eagerly (about a
    third of its import time here) and a server loading SavedModels into sessions never uses it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name in ("keras", "tf_keras"):
        sys.modules.setdefault(name, None)
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s %(levelname)s {log_prefix}%(name)s: %(message)s")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # the v1 loader's deprecation notices
