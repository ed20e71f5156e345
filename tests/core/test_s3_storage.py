"""With s3:// storage, the bundle, the logs, the metrics and the model land in the bucket (real SeaweedFS)."""
import json
import textwrap

import s3fs

EXPORT = textwrap.dedent("""
    import os
    import tensorflow as tf
    import hubml

    class HalfPlusTwo(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def __call__(self, x):
            return {"y": x * 0.5 + 2.0}

    module = HalfPlusTwo()
    hubml.report(step=1, loss=0.25)
    print("exporting to", os.environ["HUBML_MODEL_DIR"])
    tf.saved_model.save(module, os.environ["HUBML_MODEL_DIR"], signatures={"serving_default": module.__call__})
""")


def test_bundle_logs_metrics_and_model_land_in_the_bucket(s3_storage, seaweedfs, client, tmp_path):
    (tmp_path / "vocab.txt").write_text("a\nb\n")
    job = client.train(EXPORT, name="on-s3", files=["vocab.txt"]).wait(timeout=300)
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": seaweedfs}, skip_instance_cache=True)
    root = s3_storage.removeprefix("s3://")
    stored = {path.removeprefix(root + "/") for path in fs.find(root)}
    job_folder = f"jobs/{job.id}"
    assert {f"{job_folder}/bundle/main.py", f"{job_folder}/bundle/spec.json", f"{job_folder}/bundle/vocab.txt",
            f"{job_folder}/logs/attempt-1/worker-0.log", f"{job_folder}/metrics.jsonl",
            f"{job_folder}/model.json", "models/on-s3/1/saved_model.pb"} <= stored
    assert any(path.startswith("models/on-s3/1/variables/") for path in stored)
    assert job.model == {"model": "on-s3", "version": 1, "uri": f"{s3_storage}/models/on-s3/1", "state": "exported"}
    assert json.loads(fs.cat_file(f"{root}/{job_folder}/metrics.jsonl").splitlines()[0])["loss"] == 0.25
    assert "exporting to" in fs.cat_file(f"{root}/{job_folder}/logs/attempt-1/worker-0.log").decode()
    assert [m["loss"] for m in job.metrics()] == [0.25]
