"""Training code the end-to-end tests run on the cluster, as a user would write it in a `%%train` cell.

The models learn y = 0.5 x + 2 starting from the answer (the loss is zero, so real training steps leave the
weights exactly there): what the endpoints answer can then be checked exactly.
"""
from __future__ import annotations

import textwrap

# A pause after each epoch (after it was reported and backed up), so a test can act between epochs.
PAUSE = textwrap.dedent("""
    import os, time
    import tensorflow as tf

    class Pause(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            print(f"attempt {os.environ['HUBML_ATTEMPT']} begins epoch {epoch + 1}", flush=True)

        def on_epoch_end(self, epoch, logs=None):
            time.sleep(PAUSE_SECONDS)
""")

# TensorFlow's multi-worker Keras tutorial: every replica resolves its peers through the headless Service.
MULTI_WORKER = textwrap.dedent("""
    import json, os, socket
    import numpy as np
    import tensorflow as tf
    import hubml.keras

    cluster = json.loads(os.environ["TF_CONFIG"])["cluster"]
    for address in cluster["worker"]:
        host = address.rsplit(":", 1)[0]
        print("resolved", host, "->", socket.gethostbyname(host), flush=True)
    strategy = tf.distribute.MultiWorkerMirroredStrategy()

    def dataset(global_batch_size):
        x = np.random.default_rng(0).random((512, 1), dtype=np.float32)
        return tf.data.Dataset.from_tensor_slices((x, 0.5 * x + 2)).repeat().batch(global_batch_size)

    with strategy.scope():
        model = tf.keras.Sequential([tf.keras.layers.Input(shape=(1,), name="x"), tf.keras.layers.Dense(
            1, kernel_initializer=tf.keras.initializers.Constant(0.5),
            bias_initializer=tf.keras.initializers.Constant(2.0))])
        model.compile(loss="mse", optimizer=tf.keras.optimizers.SGD(learning_rate=0.1))
    model.fit(dataset(64), epochs=EPOCHS, steps_per_epoch=20, verbose=2,
              callbacks=[hubml.keras.ReportCallback(), Pause()])
    model.save(os.environ["HUBML_MODEL_DIR"])
""")


def multi_worker(epochs: int = 2, pause_seconds: float = 0.0) -> str:
    return f"EPOCHS = {epochs}\nPAUSE_SECONDS = {pause_seconds}\n" + PAUSE + MULTI_WORKER


# ParameterServerStrategy: the chief coordinates; workers and ps serve until the chief's end decides the job.
PARAMETER_SERVER = textwrap.dedent("""
    import json, os
    import numpy as np
    import tensorflow as tf

    task = json.loads(os.environ["TF_CONFIG"])["task"]
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    if task["type"] in ("worker", "ps"):
        server = tf.distribute.Server(resolver.cluster_spec(), job_name=task["type"], task_index=task["index"],
                                      protocol="grpc", start=True)
        print(task["type"], task["index"], "serving", flush=True)
        server.join()
    strategy = tf.distribute.ParameterServerStrategy(resolver)
    with strategy.scope():
        model = tf.keras.Sequential([tf.keras.layers.Input(shape=(1,), name="x"), tf.keras.layers.Dense(
            1, kernel_initializer=tf.keras.initializers.Constant(0.5),
            bias_initializer=tf.keras.initializers.Constant(2.0))])
        model.compile(loss="mse", optimizer=tf.keras.optimizers.SGD(learning_rate=0.1), steps_per_execution=5)

    def dataset(input_context):
        x = np.random.default_rng(input_context.input_pipeline_id).random((256, 1), dtype=np.float32)
        return tf.data.Dataset.from_tensor_slices((x, 0.5 * x + 2)).repeat().batch(16)

    model.fit(tf.keras.utils.experimental.DatasetCreator(dataset), epochs=2, steps_per_epoch=10, verbose=2)
    print("parameter servers:", [v.device for v in model.variables], flush=True)
    # The ps hold the variables, and each would write its share to the export path on its own disk: copy
    # them into a model outside the strategy, which the chief saves alone (docs/kubernetes.md).
    exported = tf.keras.Sequential([tf.keras.layers.Input(shape=(1,), name="x"), tf.keras.layers.Dense(1)])
    exported.set_weights(model.get_weights())
    exported.save(os.environ["HUBML_MODEL_DIR"])
""")
