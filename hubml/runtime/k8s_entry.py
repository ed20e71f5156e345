"""`python -m hubml.runtime.k8s_entry`: start one replica in a Kubernetes pod.

The Kubernetes backend runs each role as an Indexed Job. A pod knows its role
(`HUBML_ROLE`, one per Job), its index (`JOB_COMPLETION_INDEX`, set by the
Job controller) and the cluster every replica shares (`HUBML_TF_CLUSTER`,
the same JSON in every pod); this builds `TF_CONFIG` from the three, then runs
`hubml.runtime` exactly as on any backend.

It also stands in for TFJob's operator when the job is decided. The deciding
replica (the chief, else worker 0) writes `{job}/outcome.json` to storage once
it has ended for good; the replicas that never end by themselves (the `ps`,
and the workers when there is a chief) run the runtime as a child process and
end with code 0 once that file appears. The backend also stops them when it
sees the job decided; this covers the time when no notebook is watching.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from hubml import storage
from hubml.runtime.__main__ import EXIT_REQUIREMENTS_FAILED
from hubml.runtime.__main__ import main as run_runtime
from hubml.tfconfig import decider, tf_config

OUTCOME_FILE = "outcome.json"
# The runtime exits 1 when the user's code raises and EXIT_REQUIREMENTS_FAILED when requirements.txt
# cannot be installed: the same code would fail the same way again, so the Job's podFailurePolicy
# fails the job on these codes rather than retrying it.
CODE_ERROR_EXIT_CODES = (1, EXIT_REQUIREMENTS_FAILED)


def tf_config_from_pod(environ: dict[str, str]) -> str | None:
    """TF_CONFIG for this pod, or None for a single-replica job (as on the local backend)."""
    cluster = environ.get("HUBML_TF_CLUSTER")
    if not cluster:
        return None
    return tf_config(json.loads(cluster), environ["HUBML_ROLE"], int(environ.get("JOB_COMPLETION_INDEX", "0")))


def waits_for_decider(cluster: dict[str, list[str]], role: str) -> bool:
    return role == "ps" or (role == "worker" and "chief" in cluster)


def main() -> int:
    config = tf_config_from_pod(dict(os.environ))
    if config is None:
        return run_runtime()
    os.environ["TF_CONFIG"] = config
    task = json.loads(config)
    cluster, role, index = task["cluster"], task["task"]["type"], task["task"]["index"]
    outcome = storage.join(os.environ["HUBML_JOB_URL"], OUTCOME_FILE)
    if waits_for_decider(cluster, role):
        return run_until_decided(outcome)
    code = run_runtime()
    if (role, index) == decider({name: len(addresses) for name, addresses in cluster.items()}) \
            and (code == 0 or code in CODE_ERROR_EXIT_CODES):
        storage.write_text(outcome, json.dumps({"replica": f"{role}-{index}", "exit_code": code}))
    return code


def outcome_poll_seconds() -> float:
    return float(os.environ.get("HUBML_OUTCOME_POLL_SECONDS", "5"))


def run_until_decided(outcome: str) -> int:
    """Run the runtime as a child; end it, with success, once the deciding replica has ended."""
    child = subprocess.Popen([sys.executable, "-m", "hubml.runtime"])
    while child.poll() is None:
        if storage.exists(outcome):
            print(f"[hubml] the job is decided ({storage.read_text(outcome)}); stopping", flush=True)
            child.terminate()
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
            return 0
        time.sleep(outcome_poll_seconds())
    return child.returncode


if __name__ == "__main__":
    sys.exit(main())
