"""`hubml serve` flags, config files and an s3:// base path on a real S3 server."""
from __future__ import annotations

import subprocess
import sys

import pytest

from hubml.exceptions import InvalidArgument
from hubml.serving.client import PredictClient
from hubml.serving.config import parse_model_config, read_batching_options


def run_serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "import sys; from hubml.cli import main; sys.exit(main())",
                           "serve", *args], capture_output=True, text=True, timeout=60)


def test_missing_model_and_bad_config_files_exit_2_with_a_message(tmp_path):
    result = run_serve()
    assert (result.returncode, "give either --model_base_path or --model_config_file" in result.stderr) == (2, True)
    config = tmp_path / "bad.config"
    config.write_text("model_config_list { config { name: 'a' base_path: '/x' } config { name: 'a' } }")
    result = run_serve(f"--model_config_file={config}")
    assert result.returncode == 2 and "unique" in result.stderr, result.stderr


def test_config_parsers_read_tf_serving_text_format(tmp_path):
    config = parse_model_config('model_config_list { config { name: "m" base_path: "s3://b/m" '
                                'model_version_policy { latest { num_versions: 2 } } } }')
    assert config.model_config_list.config[0].model_version_policy.latest.num_versions == 2
    parameters = tmp_path / "batching.config"
    parameters.write_text("max_batch_size { value: 64 }\nbatch_timeout_micros { value: 0 }\n"
                          "allowed_batch_sizes: 8\nallowed_batch_sizes: 64\n")
    options = read_batching_options(str(parameters))
    assert (options.max_batch_size, options.batch_timeout_micros, options.allowed_batch_sizes) == (64, 0, (8, 64))
    parameters.write_text("max_batch_size { value: 0 }")
    with pytest.raises(InvalidArgument, match="max_batch_size"):
        read_batching_options(str(parameters))
    parameters.write_text("max_batch_sizes: 3")
    with pytest.raises(InvalidArgument, match="BatchingParameters"):
        read_batching_options(str(parameters))


def test_s3_base_path_is_copied_and_served(start_server, s3_storage, seaweedfs, testdata):
    import s3fs

    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": seaweedfs}, skip_instance_cache=True)
    base = s3_storage.rstrip("/") + "/models/half_plus_two"
    fs.put(str(testdata / "saved_model_half_plus_two_cpu" / "00000123") + "/", base + "/7/", recursive=True)
    server = start_server(f"--model_base_path={base}", "--model_name=remote")
    client = PredictClient(server.grpc_target, server.rest_url, "remote")
    assert client.predict([1.0, 2.0, 5.0], protocol="rest").tolist() == [2.5, 3.0, 4.5]
    assert client.status(protocol="rest")[0]["version"] == "7"


def test_version_folders_under_plain_paths_and_file_urls(tmp_path, testdata):
    import shutil

    from hubml.serving.storage import list_versions

    base = tmp_path / "model"
    shutil.copytree(testdata / "saved_model_half_plus_two_cpu" / "00000123", base / "5")
    (base / "6").mkdir()  # an export still being written: no saved_model.pb yet
    (base / "notes").mkdir()
    assert list_versions(str(base)) == {5: str(base / "5")}
    assert list_versions(f"file://{base}") == {5: str(base / "5")}
    assert list_versions(str(tmp_path / "missing")) == {}
