"""TensorBoard for a job or a sweep: `Job.tensorboard()`, `%tensorboard --job ID`, `hubml.tensorboard.for_sweep`.

    board = client.job("mnist-0a1b2c").tensorboard()    # starts (or finds) it; board.url, board.stop()
    board = hubml.tensorboard.for_sweep(client, sweep)  # one TensorBoard, each trial a run named by its parameters

TensorBoard (the `tensorboard` package) runs as a detached process on a free
loopback port, like the local backend's jobs, so it outlives the kernel that
started it; asking again for the same job or sweep finds it instead of
starting another. It ends with the Jupyter server it was started under (from
the sidebar, or from any of that server's kernels): hubml's server extension
names itself in `HUBML_SERVER_PID`, and TensorBoard watches that process. One
started elsewhere (a script, a terminal) runs until stopped:
`%tensorboard --job ID --stop`, `board.stop()`. Its log folder is a small "view" under
`{HUBML_HOME}/tensorboard/views/<key>/` with one entry per run: a link to the
job's `HUBML_TENSORBOARD_DIR` on file:// storage (TensorBoard sees new events as
they are written), or a copy of the job's synced `{storage}/jobs/{id}/tensorboard`
on object storage (TensorBoard has no S3 reader without tensorflow-io; asking
again refreshes the copy).

On a hub, the notebook server reaches TensorBoard through jupyter-server-proxy
(`/user/<name>/proxy/<port>/`). `TENSORBOARD_PROXY_URL`, the variable
TensorBoard's own notebook integration reads, sets the URL shown, with `%PORT%`
standing for the port: e.g. `c.KubeSpawner.environment =
{"TENSORBOARD_PROXY_URL": "/user/{username}/proxy/%PORT%/"}`. Without it, a
server with jupyter-server-proxy under JupyterHub uses
`$JUPYTERHUB_SERVICE_PREFIX/proxy/<port>/`; elsewhere it is http://127.0.0.1:<port>/.
"""
from __future__ import annotations

import html
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from hubml import storage
from hubml.exceptions import BackendError
from hubml.extras import require
from hubml.processes import free_ports

if TYPE_CHECKING:
    from hubml.client import Client

START_TIMEOUT_SECONDS = 180.0
OWNER_ENV = "HUBML_SERVER_PID"
WATCH_FLAG = "--hubml_watch_pid"
WATCH_SECONDS = 1.0
RELOAD_SECONDS = 5
PROXY_URL_ENV = "TENSORBOARD_PROXY_URL"


@dataclass
class TensorBoard:
    """A running TensorBoard: where it listens, what it shows, and how to stop it."""

    key: str
    pid: int
    port: int
    logdir: str
    runs: dict[str, str]

    @property
    def url(self) -> str:
        return public_url(self.port)

    @property
    def local_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def alive(self) -> bool:
        return process_alive(self.pid) and answers(self.local_url)

    def stop(self) -> None:
        """End the TensorBoard process (the view folder stays, so it can be started again)."""
        if process_alive(self.pid):
            os.killpg(self.pid, signal.SIGTERM)
            wait_for_exit(self.pid)
        remove_record(self)

    def __repr__(self) -> str:
        return f"TensorBoard for {self.key} at {self.url} ({len(self.runs)} run(s): {', '.join(self.runs)})"

    def _repr_html_(self) -> str:
        url = html.escape(self.url)
        return (f'<iframe src="{url}" width="100%" height="800" frameborder="0"></iframe>'
                f'<p><a href="{url}" target="_blank">Open TensorBoard for {html.escape(self.key)}</a></p>')


# --- what to show -------------------------------------------------------------------------


def for_job(client: Client, job_id: str) -> TensorBoard:
    """TensorBoard over one job's `HUBML_TENSORBOARD_DIR`, the job id as its run."""
    client.job(job_id)  # NotFound for a job that does not exist
    return start(client, job_id, {job_id: job_url(client, job_id)})


def for_sweep(client: Client, sweep: Any) -> TensorBoard:
    """One TensorBoard over every trial of a sweep (a `Sweep` or its id), each run named by its parameters."""
    sweep = client.sweep(sweep) if isinstance(sweep, str) else sweep
    trials = [trial for trial in sweep.record.trials if trial.job_id]
    names = unique_names([run_name(trial.params) for trial in trials], [trial.number for trial in trials])
    return start(client, f"sweep-{sweep.id}", {name: job_url(client, trial.job_id)
                                               for name, trial in zip(names, trials)})


def job_url(client: Client, job_id: str) -> str:
    return storage.join(client.backend.job_url(job_id), "tensorboard")


def run_name(params: dict[str, Any]) -> str:
    """`lr=0.01,units=32`: a trial's parameters as a run (folder) name."""
    text = ",".join(f"{key}={value}" for key, value in params.items()) or "no-parameters"
    return re.sub(r"[/\\\0]", "_", text)


def unique_names(names: list[str], numbers: list[int]) -> list[str]:
    """Trials that drew the same parameters get their trial number appended."""
    return [f"{name} (trial {number})" if names.count(name) > 1 else name for name, number in zip(names, numbers)]


def build_view(folder: str, runs: dict[str, str]) -> None:
    """One entry per run: a link to a local events folder, or a fresh copy of one in object storage."""
    os.makedirs(folder, exist_ok=True)
    for name, url in runs.items():
        entry = os.path.join(folder, name)
        if storage.is_local(url):
            os.makedirs(storage.local_path(url), exist_ok=True)
            if not os.path.islink(entry):
                os.symlink(storage.local_path(url), entry)
        elif storage.exists(url):
            storage.download(url, entry)


# --- the process --------------------------------------------------------------------------


def start(client: Client, key: str, runs: dict[str, str]) -> TensorBoard:
    """Find the TensorBoard already serving `key`, or start one; returns once it answers HTTP."""
    require("tensorflow", "TensorBoard")
    home = os.path.join(client.settings.home, "tensorboard")
    view = os.path.join(home, "views", key)
    build_view(view, runs)
    found = find(client, key)
    if found is not None:
        return found
    (port,) = free_ports(1)
    log = open(os.path.join(home, f"{key}.log"), "ab")
    command = [sys.executable, "-m", "hubml.tensorboard", "--logdir", view, "--host", "127.0.0.1", "--port", str(port),
               "--reload_interval", str(RELOAD_SECONDS), "--window_title", key]
    if os.environ.get(OWNER_ENV, "").isdigit():
        command += [WATCH_FLAG, os.environ[OWNER_ENV]]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               start_new_session=True)
    log.close()
    board = TensorBoard(key=key, pid=process.pid, port=port, logdir=view, runs=dict(runs))
    wait_until_serving(board, process, os.path.join(home, f"{key}.log"))
    write_record(home, board)
    return board


def wait_until_serving(board: TensorBoard, process: subprocess.Popen, log: str) -> None:
    deadline = time.time() + START_TIMEOUT_SECONDS
    while time.time() < deadline:
        if process.poll() is not None:
            raise BackendError(f"TensorBoard for {board.key} exited with code {process.returncode}:\n"
                               f"{tail(log)}")
        if answers(board.local_url):
            return
        time.sleep(0.5)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    raise BackendError(f"TensorBoard for {board.key} did not answer within {START_TIMEOUT_SECONDS:.0f} s:\n{tail(log)}")


def public_url(port: int) -> str:
    """The URL a person's browser uses: through the hub's proxy when there is one (see the module's doc)."""
    proxy = os.environ.get(PROXY_URL_ENV)
    if proxy:
        return proxy.replace("%PORT%", str(port))
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if prefix and has_server_proxy():
        return f"{prefix.rstrip('/')}/proxy/{port}/"
    return f"http://127.0.0.1:{port}/"


def has_server_proxy() -> bool:
    try:
        import jupyter_server_proxy  # noqa: F401
    except ImportError:
        return False
    return True


# --- records of running TensorBoards, so a second ask finds the first ----------------------


def read_record(home: str, key: str) -> TensorBoard | None:
    path = os.path.join(home, f"{key}.json")
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return TensorBoard(**json.load(handle))


def write_record(home: str, board: TensorBoard) -> None:
    with open(os.path.join(home, f"{board.key}.json"), "w") as handle:
        json.dump(asdict(board), handle)


def remove_record(board: TensorBoard) -> None:
    home = os.path.dirname(os.path.dirname(board.logdir))
    try:
        os.remove(os.path.join(home, f"{board.key}.json"))
    except FileNotFoundError:
        pass


def find(client: Client, key: str) -> TensorBoard | None:
    """The TensorBoard serving `key` (a job id, or `sweep-<id>`), if one still answers."""
    board = read_record(os.path.join(client.settings.home, "tensorboard"), key)
    return board if board is not None and board.alive else None


def running(client: Client) -> list[TensorBoard]:
    """The TensorBoards started for this HUBML_HOME that still answer."""
    home = os.path.join(client.settings.home, "tensorboard")
    names = sorted(name[:-5] for name in os.listdir(home) if name.endswith(".json")) if os.path.isdir(home) else []
    boards = [read_record(home, name) for name in names]
    return [board for board in boards if board is not None and board.alive]


# --- small helpers ------------------------------------------------------------------------


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "data/environment", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_for_exit(pid: int, timeout: float = 10.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            finished, _ = os.waitpid(pid, os.WNOHANG)  # our own child: reap it
        except ChildProcessError:
            finished = 0 if process_alive(pid) else pid
        if finished:
            return
        time.sleep(0.1)
    os.killpg(pid, signal.SIGKILL)


def tail(path: str, lines: int = 20) -> str:
    with open(path, errors="replace") as handle:
        return "".join(handle.readlines()[-lines:])


def main() -> None:
    """`python -m hubml.tensorboard ARGS`: TensorBoard on its own pure-Python event reader.

    TensorBoard imports TensorFlow when it can, which costs 10-20 s before it
    answers; its built-in stub reads local event files (scalars, histograms,
    images, graphs, hparams) without it. `tensorboard.compat.notf`, when
    importable, is TensorBoard's own switch to the stub.
    """
    import types

    sys.modules["tensorboard.compat.notf"] = types.ModuleType("tensorboard.compat.notf")
    from tensorboard.main import run_main

    if WATCH_FLAG in sys.argv:
        at = sys.argv.index(WATCH_FLAG)
        owner = int(sys.argv[at + 1])
        del sys.argv[at:at + 2]
        threading.Thread(target=exit_with, args=(owner,), name="hubml-owner-watch", daemon=True).start()
    sys.argv[0] = "tensorboard"
    run_main()


def exit_with(owner: int) -> None:
    """End this TensorBoard once the Jupyter server that started it is gone, however it ended."""
    while process_alive(owner):
        time.sleep(WATCH_SECONDS)
    os._exit(0)


if __name__ == "__main__":
    main()
