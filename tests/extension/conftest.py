"""Fixtures for the extension tests: a real local-backend client that leaves nothing running, job
and sweep bodies, and pytest-jupyter's server fixtures (jp_fetch, jp_serverapp) with hubml's server extension enabled."""
from __future__ import annotations

import time
from typing import Callable

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F401,F403  (server fixtures and the async-test hooks)
from traitlets.config import Config

import hubml

# Job bodies: real cells for the local backend, small enough to start in a second.
CHATTY = "for i in range(5):\n    print('line', i, flush=True)\n"
SLEEPER = "import time\nprint('ready', flush=True)\ntime.sleep(120)\n"
TICKER = (
    "import time\nimport hubml\n"
    "for epoch in range(1, 4):\n"
    "    time.sleep(0.6)\n"
    "    print('epoch', epoch, flush=True)\n"
    "    hubml.report(step=epoch, epoch=epoch, epochs=3, loss=1.0 / epoch)\n"
)
# Exports a real (tiny) SavedModel to HUBML_MODEL_DIR, so the job has a model to deploy.
EXPORTER = (
    "import os\nimport tensorflow as tf\n"
    "class Double(tf.Module):\n"
    "    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name='x')])\n"
    "    def serve(self, x):\n"
    "        return {'y': x * 2.0}\n"
    "module = Double()\n"
    "tf.saved_model.save(module, os.environ['HUBML_MODEL_DIR'], signatures={'serving_default': module.serve})\n"
    "print('exported', flush=True)\n"
)
# A sweep trial: x is the searched parameter; x=2 scores best.
SCORER = "import hubml\nhubml.report(step=1, score=-(x - 2) ** 2)\n"


@pytest.fixture
def client(hubml_home, monkeypatch) -> hubml.Client:
    """The local backend in the shared private HUBML_HOME (tests/conftest.py), cleaned up after the test."""
    monkeypatch.delenv("HUBML_PLAIN", raising=False)
    client = hubml.Client(backend="local")
    yield client
    for sweep in client.sweeps():  # nothing outlives its test
        if not sweep.done:
            sweep.cancel()
    for job in client.jobs():
        if not job.done:
            job.cancel()
    for endpoint in client.endpoints():
        endpoint.undeploy()


@pytest.fixture
def one_cpu(monkeypatch) -> None:
    """A capacity of one CPU, for the client, the server and the jobs: the second default job queues.
    Ask for it before `client` or `lab`, which read it when they start."""
    monkeypatch.setenv("HUBML_CAPACITY_CPU", "1")


@pytest.fixture
def jp_server_config(hubml_home):
    # hubml_home first: the manager builds its client from HUBML_HOME on the first request.
    # jupyter-server-proxy too, as on a hub: the addresses the sidebar gets go through it.
    return Config({"ServerApp": {"jpserver_extensions": {"hubml.extension": True, "jupyter_server_proxy": True}}})


@pytest.fixture
def submit(client) -> Callable[..., hubml.Job]:
    """submit("chatty"|"sleeper"|"ticker"|"exporter", name=...): a real job on the local backend."""
    bodies = {"chatty": CHATTY, "sleeper": SLEEPER, "ticker": TICKER, "exporter": EXPORTER}
    return lambda body, name="t": client.train(bodies[body], name=name)


@pytest.fixture
def tune(client) -> Callable[..., object]:
    """tune(values): a real grid sweep over x in `values`, maximizing the trials' reported score."""
    from hubml.specs import TrainSpec
    from hubml.tuning.spec import TuneSpec

    def start(values: tuple[int, ...] = (1, 2, 3, 4)):
        return client.tune(TuneSpec(template=TrainSpec(name="sweepy", code=SCORER),
                                    params=[f"x=choice({', '.join(map(str, values))})"], objective="score",
                                    direction="maximize", algorithm="grid", trials=len(values), parallel=2))
    return start


def eventually(check: Callable[[], object], timeout: float = 30.0, interval: float = 0.1) -> object:
    """Wait until `check()` is truthy and return it; fail with what it last said."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"still {value!r} after {timeout} s"
            return value
        time.sleep(interval)


def wait_for_line(job, text: str, timeout: float = 30.0) -> None:
    eventually(lambda: any(line.text == text for line in job.logs()), timeout)


@pytest.fixture(name="eventually")
def eventually_fixture() -> Callable[..., object]:
    return eventually


@pytest.fixture(name="wait_for_line")
def wait_for_line_fixture() -> Callable[..., None]:
    return wait_for_line
