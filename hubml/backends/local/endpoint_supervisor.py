"""One detached supervisor per local endpoint: `python -m hubml.backends.local.endpoint_supervisor HOME NAME`.

It runs in a session of its own, so the endpoint outlives the kernel or command
that deployed it, and keeps one `hubml serve` running on the endpoint's ports:

- a server that exits after it was ready (killed, crashed) is started again on
  the same ports, so clients keep the same address;
- a first start that never becomes ready (the model does not load) fails the
  endpoint at once, since starting it again would fail the same way; later
  restarts give up after `MAX_UNREADY_RUNS` in a row;
- SIGTERM (undeploy) stops the server and then the supervisor;
- so does finding that the endpoint is no longer its own: the record gone, its
  HUBML_HOME deleted, or the name deployed again by another supervisor. No
  server is left running that nothing lists.

Its own state (the server's pid, restarts, a failure) is the store document
`("endpoint-process", NAME)`, which only this process writes; the endpoint's
record (`"endpoint"`) is written only by whoever deploys it.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

from hubml.backends.local.store import Store
from hubml.backends.local.supervisor import STOP_GRACE_SECONDS, describe_exit
from hubml.processes import die_with_parent

ENDPOINT_KIND, PROCESS_KIND = "endpoint", "endpoint-process"
POLL_SECONDS = 0.1
OWNER_CHECK_SECONDS = 2.0
MAX_UNREADY_RUNS = 3
RESTART_BACKOFF_SECONDS = (0.5, 2.0, 5.0)
LOG_TAIL_LINES = 15
SERVE_MAIN = "import sys; from hubml.cli import main; sys.exit(main())"


def endpoint_folder(home: str, name: str) -> str:
    return os.path.join(home, "endpoints", name)


def serve_command(record: dict, folder: str) -> list[str]:
    """`hubml serve` for this endpoint: its ports, its model, a config file when a version is pinned."""
    command = [sys.executable, "-c", SERVE_MAIN, "serve",
               "--port", record["grpc_target"].rsplit(":", 1)[1],
               "--rest_api_port", record["rest_url"].rsplit(":", 1)[1],
               "--ready_file", os.path.join(folder, "ready.json")]
    if record["version"] is None:
        command += ["--model_name", record["model"], "--model_base_path", record["model_uri"]]
    else:
        command += ["--model_config_file", write_model_config(record, folder)]
    if record["batching"]:
        command.append("--enable_batching")
    if record.get("replicas", 1) > 1:  # processes sharing the REST port, as pods share a Service
        command += ["--rest_api_workers", str(record["replicas"])]
    return command


def write_model_config(record: dict, folder: str) -> str:
    """TF Serving's ModelServerConfig (text format) serving exactly the pinned version."""
    path = os.path.join(folder, "models.config")
    with open(path, "w") as handle:
        handle.write(
            "model_config_list {\n  config {\n"
            f"    name: {quote(record['model'])}\n    base_path: {quote(record['model_uri'])}\n"
            '    model_platform: "tensorflow"\n'
            f"    model_version_policy {{ specific {{ versions: {int(record['version'])} }} }}\n"
            "  }\n}\n")
    return path


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def log_tail(path: str, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with open(path, errors="replace") as handle:
            return "".join(handle.readlines()[-lines:]).rstrip()
    except FileNotFoundError:
        return ""


class Stopped(Exception):
    pass


class EndpointSupervisor:
    def __init__(self, home: str, name: str):
        self.store = Store(home)
        self.name = name
        self.record = self.store.get(ENDPOINT_KIND, name)
        self.folder = endpoint_folder(home, name)
        self.ready_file = os.path.join(self.folder, "ready.json")
        self.serve_log = os.path.join(self.folder, "serve.log")
        self.state = {"serve_pid": None, "restarts": 0, "failed": False, "reason": ""}
        self.server: subprocess.Popen | None = None
        signal.signal(signal.SIGTERM, self._on_sigterm)

    def run(self) -> None:
        ever_ready, unready_runs = False, 0
        try:
            while True:
                code, ready = self._run_server()
                unready_runs = 0 if ready else unready_runs + 1
                ever_ready = ever_ready or ready
                reason = f"hubml serve {describe_exit(code)}"
                if unready_runs >= (MAX_UNREADY_RUNS if ever_ready else 1):
                    self._publish(failed=True, serve_pid=None, reason=f"{reason} before it was ready; "
                                  f"last lines of {self.serve_log}:\n{log_tail(self.serve_log)}")
                    return
                self._publish(restarts=self.state["restarts"] + 1, reason=f"{reason}; restarting it")
                print(f"{self.name}: {reason}; restarting", flush=True)
                time.sleep(RESTART_BACKOFF_SECONDS[min(unready_runs, len(RESTART_BACKOFF_SECONDS) - 1)])
        except Stopped:
            print(f"{self.name}: stopped", flush=True)

    def _run_server(self) -> tuple[int, bool]:
        """Start `hubml serve` and wait for it to exit: (exit code, whether it became ready)."""
        if os.path.exists(self.ready_file):
            os.remove(self.ready_file)
        with open(self.serve_log, "ab") as log:
            process = subprocess.Popen(serve_command(self.record, self.folder), stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
        self.server = process
        self._publish(serve_pid=process.pid)
        ready, checked_at = False, time.time()
        while process.poll() is None:
            if not ready and os.path.exists(self.ready_file):
                ready = True
                self._publish(reason="")
            if time.time() - checked_at > OWNER_CHECK_SECONDS:
                checked_at = time.time()
                if not self._still_deployed():
                    self._stop_server()
                    raise Stopped()
            time.sleep(POLL_SECONDS)
        return process.returncode, ready

    def _still_deployed(self) -> bool:
        """False once the endpoint's record is gone or names another supervisor."""
        try:
            record = self.store.get(ENDPOINT_KIND, self.name)
        except sqlite3.Error:  # the database (its HUBML_HOME) was removed
            return False
        return record is not None and record.get("pid") in (None, os.getpid())

    def _publish(self, **fields) -> None:
        self.state.update(fields)
        self.store.put(PROCESS_KIND, self.name, self.state)

    def _stop_server(self) -> None:
        server = self.server
        if server is not None and server.poll() is None:
            server.terminate()
            try:
                server.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    def _on_sigterm(self, signum: int, frame: object) -> None:
        self._stop_server()
        raise Stopped()


def main(argv: list[str]) -> int:
    home, name = argv
    EndpointSupervisor(home, name).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
