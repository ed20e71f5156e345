"""Multi-replica jobs: TF_CONFIG as TensorFlow reads it, and MultiWorkerMirroredStrategy end to end."""
import json
import os
import textwrap

from hubml.tfconfig import cluster_spec, decider, tf_config

# Each replica prints its TF_CONFIG, then marks itself started in the job's shared checkpoint folder; the
# chief (whose end ends the job, as in TFJob) waits for every mark, so no replica is stopped before it printed.
PRINT_TF_CONFIG = textwrap.dedent("""
    import json, os, time
    config = os.environ["TF_CONFIG"]
    print("TF_CONFIG=" + config, flush=True)
    task = json.loads(config)["task"]
    marks = os.path.join(os.environ["HUBML_CHECKPOINT_DIR"], "started")
    os.makedirs(marks, exist_ok=True)
    open(os.path.join(marks, f"{task['type']}-{task['index']}"), "w").close()
    deadline = time.time() + 120
    while task["type"] == "chief" and len(os.listdir(marks)) < 4 and time.time() < deadline:
        time.sleep(0.05)
""")


def test_chief_ps_and_workers_get_one_consistent_cluster(client):
    job = client.train(PRINT_TF_CONFIG, name="cluster", chief=True, ps=1, workers=2).wait()
    configs = {line.replica: json.loads(line.text.split("=", 1)[1]) for line in job.logs()
               if line.text.startswith("TF_CONFIG=")}
    assert sorted(configs) == ["chief-0", "ps-0", "worker-0", "worker-1"]
    cluster = configs["chief-0"]["cluster"]
    assert {role: len(addresses) for role, addresses in cluster.items()} == {"chief": 1, "worker": 2, "ps": 1}
    addresses = [address for group in cluster.values() for address in group]
    assert len(set(addresses)) == 4 and all(address.startswith("127.0.0.1:") for address in addresses)
    for replica, config in configs.items():
        role, index = replica.split("-")
        assert config == {"cluster": cluster, "task": {"type": role, "index": int(index)}}


def test_tensorflow_reads_our_tf_config(monkeypatch):
    import tensorflow as tf

    cluster = cluster_spec({"chief": 1, "worker": 2, "ps": 1}, lambda role, i: f"{role}-{i}.svc:2222")
    monkeypatch.setenv("TF_CONFIG", tf_config(cluster, "worker", 1))
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    assert resolver.cluster_spec().as_dict() == cluster
    assert (resolver.task_type, resolver.task_id) == ("worker", 1)
    assert decider({"chief": 1, "worker": 2}) == ("chief", 0) and decider({"worker": 2}) == ("worker", 0)


# TensorFlow's multi-worker Keras tutorial, as a user would paste it (tf.keras, saving on every worker).
TUTORIAL = textwrap.dedent("""
    import json, os
    import numpy as np
    import tensorflow as tf
    import hubml.keras

    tf_config = json.loads(os.environ["TF_CONFIG"])
    print("task", tf_config["task"]["type"], tf_config["task"]["index"], "of", len(tf_config["cluster"]["worker"]))
    strategy = tf.distribute.MultiWorkerMirroredStrategy()

    def dataset(global_batch_size):
        x = np.random.default_rng(0).random((512, 8), dtype=np.float32)
        y = (x.sum(axis=1) > 4).astype(np.int64)
        return tf.data.Dataset.from_tensor_slices((x, y)).shuffle(512).repeat().batch(global_batch_size)

    with strategy.scope():
        model = tf.keras.Sequential([tf.keras.layers.Input(shape=(8,)),
                                     tf.keras.layers.Dense(16, activation="relu"),
                                     tf.keras.layers.Dense(2)])
        model.compile(loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      optimizer=tf.keras.optimizers.SGD(learning_rate=0.01), metrics=["accuracy"])
    model.fit(dataset(64), epochs=2, steps_per_epoch=5, verbose=2, callbacks=[hubml.keras.ReportCallback()])
    model.save(os.environ["HUBML_MODEL_DIR"])  # every worker saves; only worker 0's copy is kept
""")


def test_multi_worker_mirrored_strategy_runs_two_replicas_and_exports_one_version(client):
    job = client.train(TUTORIAL, name="mwms", workers=2, timeout=300).wait()
    lines = [str(line) for line in job.logs()]
    assert "[worker-0] task worker 0 of 2" in lines and "[worker-1] task worker 1 of 2" in lines
    assert "[worker-0] [hubml] worker-0 exited with code 0" in lines
    assert "[worker-1] [hubml] worker-1 exited with code 0" in lines
    assert [m["epoch"] for m in job.metrics()] == [1, 2]  # reported once, by worker 0
    models = os.path.join(client.settings.home, "storage", "models", "mwms")
    assert os.listdir(models) == ["1"]
    assert os.path.isfile(os.path.join(models, "1", "saved_model.pb"))
