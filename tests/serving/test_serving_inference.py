"""Where an un-batched REST predict runs: inline on the event loop when the signature is quick, else on the pool."""
from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from hubml.exceptions import ServingError
from hubml.serving.inference import INLINE_SECONDS, Inference
from hubml.serving.servable import Servable

ROW = {"x": np.array([1.0], dtype=np.float32)}


@pytest.fixture(scope="module")
def servable(testdata):
    loaded = Servable("half_plus_two", 123, str(testdata / "saved_model_half_plus_two_cpu" / "00000123"))
    yield loaded
    loaded.close()


class Recorded:
    """A servable's `run` that notes the thread it ran on, with a chosen expected cost."""

    def __init__(self, servable: Servable, expected: float | None):
        self.servable, self.expected, self.threads = servable, expected, []

    def expected_seconds(self, signature_name, inputs):
        return self.expected

    def run(self, signature_name, inputs, output_keys=None):
        self.threads.append(threading.current_thread())
        return self.servable.run(signature_name, inputs, output_keys)


@pytest.mark.parametrize("expected, inline", [(None, False), (INLINE_SECONDS / 10, True), (INLINE_SECONDS * 2, False)],
                         ids=["unknown-cost", "quick", "slow"])
def test_quick_calls_run_on_the_loop_and_others_on_the_pool(servable, expected, inline):
    recorded = Recorded(servable, expected)
    with ThreadPoolExecutor(1) as pool:
        inference = Inference(None, pool)

        async def call():
            return await inference.predict_async(recorded, None, ROW), threading.current_thread()

        outputs, loop_thread = asyncio.run(call())
    assert outputs["y"].tolist() == [2.5]
    assert (recorded.threads == [loop_thread]) is inline


def test_an_inline_failure_reaches_the_caller_as_the_servings_error(servable):
    recorded = Recorded(servable, 0.0)
    with ThreadPoolExecutor(1) as pool:
        inference = Inference(None, pool)

        async def call():
            return await inference.predict_async(recorded, None, {"z": ROW["x"]})

        with pytest.raises(ServingError, match="input tensor alias not found in signature: z"):
            asyncio.run(call())
    assert len(recorded.threads) == 1


def test_a_servable_expects_costs_from_its_own_calls(servable):
    fresh = Servable("half_plus_two", 123, servable.path)
    assert fresh.expected_seconds(None, ROW) is None
    fresh.run(None, ROW)
    one = fresh.expected_seconds(None, ROW)
    assert one > 0 and fresh.expected_seconds(None, {"x": np.zeros(100, np.float32)}) == pytest.approx(100 * one)
    fresh.close()
