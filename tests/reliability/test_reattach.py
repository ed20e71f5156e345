"""The kernel or CLI that submitted a job is killed: the job goes on, and a new one follows its logs
from where the killed one stopped, with no line lost or repeated (`hubml.follow`)."""
from __future__ import annotations

import os
import queue
import signal
import subprocess
import time

import pytest
from fault_helpers import HUBML, OutputReader

from hubml.client import Client

TICKS = 16
# The follower records a line as shown right after printing it; the test kills it while it waits for the
# next line (where a follower spends nearly all its time), so lines come slowly enough to leave that gap.
TICKER = f"import time\nfor i in range({TICKS}):\n    print(f'tick {{i}}', flush=True)\n    time.sleep(0.35)\n"


def job_lines(job_id: str) -> list[str]:
    """What the job itself wrote, as a follower prints it."""
    return [str(line) for line in Client().job(job_id).logs()]


def test_a_killed_cli_leaves_the_job_running_and_a_new_command_follows_on_without_loss_or_repeat(hubml_home,
                                                                                                   tmp_path):
    (tmp_path / "ticker.py").write_text(TICKER)
    submitting = subprocess.Popen([*HUBML, "jobs", "submit", "ticker.py"], cwd=tmp_path, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    first = OutputReader(submitting)
    first.wait_for_line("[worker-0] tick 4", timeout=60)
    time.sleep(0.1)
    submitting.send_signal(signal.SIGKILL)
    before = first.finish(timeout=10)
    job_id = before[0].split()[1]  # "Submitted <id>"
    assert Client().job(job_id).state == "RUNNING", "the job goes on without the command that submitted it"

    resumed = subprocess.run([*HUBML, "jobs", "logs", "-f", job_id], cwd=tmp_path, text=True,
                             capture_output=True, timeout=90)
    assert resumed.returncode == 0, resumed.stderr
    after = resumed.stdout.splitlines()
    assert after and after[0] != "[worker-0] tick 0"
    assert [line for line in before[1:] + after if line.startswith("[")] == job_lines(job_id)
    assert Client().job(job_id).state == "SUCCEEDED"

    again = subprocess.run([*HUBML, "jobs", "logs", "-f", "--from-start", job_id], text=True, capture_output=True,
                           timeout=60)
    assert again.stdout.splitlines() == job_lines(job_id)


class Kernel:
    """A real IPython kernel (jupyter_client) with hubml loaded; `run` collects a cell's printed lines."""

    def __init__(self):
        from jupyter_client.manager import KernelManager

        self.manager = KernelManager(kernel_name="python3")
        # This client reads the cells' text as a console does, not widgets (extension/display.py).
        self.manager.start_kernel(env={**os.environ, "HUBML_PLAIN": "1"})
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        self.text = ""
        self.run("%load_ext hubml", timeout=60)

    def execute(self, code: str) -> str:
        return self.client.execute(code)

    def read_output(self, until: str | None = None, reply_to: str | None = None, timeout: float = 90) -> None:
        """Gather stream output until `until` is printed or the cell `reply_to` is idle."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = self.client.get_iopub_msg(timeout=0.5)
            except queue.Empty:
                continue
            content, kind = message["content"], message["msg_type"]
            if kind == "stream":
                self.text += content["text"]
            elif kind == "error":
                raise AssertionError("\n".join(content["traceback"]))
            if until and until in self.text:
                return
            if reply_to and kind == "status" and content["execution_state"] == "idle" \
                    and message["parent_header"].get("msg_id") == reply_to:
                return
        raise AssertionError(f"timed out; the kernel printed:\n{self.text}")

    def run(self, code: str, timeout: float = 90) -> str:
        self.text = ""
        self.read_output(reply_to=self.execute(code), timeout=timeout)
        return self.text

    def kill(self) -> None:
        os.kill(self.manager.provisioner.process.pid, signal.SIGKILL)
        self.close()

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture
def kernels():
    started: list[Kernel] = []

    def start() -> Kernel:
        started.append(Kernel())
        return started[-1]

    yield start
    for kernel in started:
        if kernel.manager.is_alive():
            kernel.close()


def test_a_killed_kernel_leaves_the_job_running_and_a_new_kernel_follows_on_without_loss_or_repeat(hubml_home,
                                                                                                      kernels):
    first = kernels()
    first.text = ""
    first.execute(f"%%train --name ticker\n{TICKER}")
    first.read_output(until="[worker-0] tick 4\n")
    time.sleep(0.1)
    first.kill()
    before = first.text.splitlines()
    job_id = before[0].split()[1]  # "Submitted <id> (worker:1) on local"
    assert Client().job(job_id).state == "RUNNING", "the job goes on without the kernel that submitted it"

    after = kernels().run(f"%logs -f {job_id}").splitlines()
    assert after and after[0] != "[worker-0] tick 0"
    assert [line for line in before[1:] + after if line.startswith("[")] == job_lines(job_id)
    assert Client().job(job_id).state == "SUCCEEDED"
