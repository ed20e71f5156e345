"""`TF_CONFIG`, exactly as TensorFlow's distribution strategies read it.

One builder for both backends: the local backend addresses replicas as
loopback ports, the Kubernetes backend as `<job>-<role>-<i>.<service>` names.
"""
from __future__ import annotations

import json
from typing import Callable

ROLE_ORDER = ("chief", "worker", "ps")


def cluster_spec(replicas: dict[str, int], address: Callable[[str, int], str]) -> dict[str, list[str]]:
    """{'chief': [...], 'worker': [...], 'ps': [...]} for the roles that have replicas."""
    return {
        role: [address(role, index) for index in range(replicas[role])]
        for role in ROLE_ORDER
        if replicas.get(role)
    }


def tf_config(cluster: dict[str, list[str]], role: str, index: int) -> str:
    if role not in cluster or not 0 <= index < len(cluster[role]):
        raise ValueError(f"task {role}:{index} is not in the cluster {sorted(cluster)}")
    return json.dumps({"cluster": cluster, "task": {"type": role, "index": index}})


def decider(replicas: dict[str, int]) -> tuple[str, int]:
    """The replica whose end decides the job's, as in TFJob: the chief, else worker 0."""
    return ("chief", 0) if replicas.get("chief") else ("worker", 0)


def replica_names(replicas: dict[str, int]) -> list[tuple[str, int]]:
    return [(role, index) for role in ROLE_ORDER for index in range(replicas.get(role, 0))]
