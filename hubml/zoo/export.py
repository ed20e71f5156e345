"""How zoo models are exported: a SavedModel whose `serving_default` signature names its input and outputs.

    outputs: probabilities (float, one per class), class_ids (int64), classes (string)

so a TF Serving client gets the class name without knowing the label order.
Used inside zoo jobs, where TensorFlow is imported anyway.
"""
from __future__ import annotations

import os
from typing import Any


def export_classifier(model: Any, input_spec: Any, class_names: list[str], directory: str | None = None) -> str:
    """Write `model` to `directory` (default HUBML_MODEL_DIR) with the zoo's classifier signature."""
    import keras
    import tensorflow as tf

    directory = directory or os.environ["HUBML_MODEL_DIR"]
    names = tf.constant(class_names)

    def serve(inputs: Any) -> dict[str, Any]:
        probabilities = model(inputs, training=False)
        class_ids = tf.argmax(probabilities, axis=-1)
        return {"probabilities": probabilities, "class_ids": class_ids, "classes": tf.gather(names, class_ids)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serving_default", fn=serve, input_signature=[input_spec])
    archive.write_out(directory, verbose=False)
    print(f"[zoo] exported to {directory}", flush=True)
    return directory


def callbacks() -> list[Any]:
    """hubml's progress and resume callback, and TensorBoard logs in the job's HUBML_TENSORBOARD_DIR."""
    import keras

    from hubml.keras import ReportCallback

    found = [ReportCallback()]
    if os.environ.get("HUBML_TENSORBOARD_DIR"):
        found.append(keras.callbacks.TensorBoard(os.environ["HUBML_TENSORBOARD_DIR"]))
    return found
