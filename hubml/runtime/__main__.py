"""`python -m hubml.runtime`: run one replica of a job (see hubml/runtime/__init__.py)."""
from __future__ import annotations

import builtins
import json
import os
import runpy
import signal
import sys
import traceback

from hubml import quiet_tensorflow, storage
from hubml.runtime import dependencies, environment, publish
from hubml.runtime.contract import Replica, replicas_of
from hubml.runtime.retries import EXIT_REQUIREMENTS_FAILED
from hubml.runtime.sync import Syncer


def main() -> int:
    replica = Replica.from_environment()
    bundle = fetch_bundle(replica)
    with open(os.path.join(bundle, "spec.json")) as handle:
        spec = json.load(handle)
    requirements = None if os.environ.get("HUBML_REQUIREMENTS_READY") else dependencies.requirements_file(bundle, spec)
    if requirements:
        return reexec_in_environment(requirements)
    decides = replica.is_decider(replicas_of(spec))
    record = publish.reserve(replica, spec.get("model") or spec["name"]) if decides else None
    model_dir = publish.export_dir(replica, record) if decides else replica.folder("scratch", replica.name, "model")
    os.environ.update(replica.environment(spec, model_dir))
    if use_legacy_keras(spec):
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    quiet_tensorflow.set_log_level()
    print(f"[hubml] {replica.job_id} {replica.name} attempt {replica.attempt} starting", flush=True)
    syncer = Syncer(replica, decides)
    syncer.start()
    # Stopped from outside (cancel, a new attempt): leave through the code's own exit, so the last
    # checkpoints and metrics are still synced to storage below. SIGINT too: MultiWorkerMirroredStrategy's
    # preemption notifier takes SIGTERM over, so the pod's supervisor stops it with SIGINT.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda signum, frame: sys.exit(128 + signum))
    code = run_user_code(bundle, spec)
    if record is not None:
        publish.finish(replica, record, code == 0)
    syncer.stop()
    print(f"[hubml] {replica.name} exited with code {code}", flush=True)
    return code


def fetch_bundle(replica: Replica) -> str:
    url = storage.join(replica.job_url, "bundle")
    if storage.is_local(url):
        return storage.local_path(url)
    local = os.path.join(replica.workdir, "bundle")
    if not os.path.exists(os.path.join(local, "spec.json")):
        storage.download(url, local)
    return local


def reexec_in_environment(requirements: str) -> int:
    cache = os.path.join(os.environ.get("HUBML_HOME") or os.path.expanduser("~/.hubml"), "envs")
    try:
        python = environment.python_for(requirements, cache)
    except environment.RequirementsFailed as error:
        print(f"[hubml] {error}", file=sys.stderr, flush=True)
        return EXIT_REQUIREMENTS_FAILED
    os.environ["HUBML_REQUIREMENTS_READY"] = "1"
    sys.stdout.flush()
    os.execv(python, [python, "-m", "hubml.runtime"])


def use_legacy_keras(spec: dict) -> bool:
    choice = spec.get("legacy_keras")
    return sum(replicas_of(spec).values()) > 1 if choice is None else bool(choice)


def run_user_code(bundle: str, spec: dict) -> int:
    """Run the cell (with hyperparameters bound as variables) or the package module; return an exit code."""
    os.chdir(bundle)
    sys.path.insert(0, bundle)
    try:
        if spec.get("module"):
            project = os.path.join(bundle, "project")
            source_root = os.path.join(project, "src")
            sys.path.insert(0, source_root if os.path.isdir(source_root) else project)
            runpy.run_module(spec["module"], run_name="__main__", alter_sys=True)
        else:
            path = os.path.join(bundle, "main.py")
            with open(path) as handle:
                code = compile(handle.read(), path, "exec")
            namespace = {"__name__": "__main__", "__file__": path, "__builtins__": builtins, **spec.get("hparams", {})}
            exec(code, namespace)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException as error:
        # Drop this function's own frame: the log should show the user's code, not the runtime.
        traceback.print_exception(type(error), error, error.__traceback__.tb_next)
        sys.stderr.flush()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
