"""Example requests built from a served signature: shaped and typed as the model asks, and answered by it."""
from __future__ import annotations

import json

import pytest

from hubml.serving.examples import example_request



def metadata_with(inputs: dict) -> dict:
    return {"metadata": {"signature_def": {"signature_def": {"serving_default": {"inputs": inputs}}}}}


def spec(dtype: str, *sizes: int) -> dict:
    return {"dtype": dtype, "tensor_shape": {"dim": [{"size": str(size)} for size in sizes]}}


def test_tf_servings_own_metadata_gives_one_row_of_its_shape():
    from testdata import TF_SERVING_TESTDATA

    with open(TF_SERVING_TESTDATA / "half_plus_two_model_metadata.json") as handle:
        assert example_request(json.load(handle)) == {"instances": [[0.5]]}


@pytest.mark.parametrize("inputs, expected", [
    ({"x": spec("DT_FLOAT", -1, 8)}, [[0.5] * 8]),
    ({"image": spec("DT_FLOAT", -1, 2, 3)}, [[[0.5] * 3] * 2]),
    ({"ids": spec("DT_INT64", -1, -1)}, [[0]]),  # an unknown size becomes 1
    ({"text": spec("DT_STRING", -1)}, ["text"]),
    ({"flag": spec("DT_BOOL", -1)}, [False]),
    ({"b": spec("DT_INT32", -1), "a": spec("DT_FLOAT", -1, 2)}, [{"a": [0.5, 0.5], "b": 0}]),
])
def test_each_input_is_shaped_and_typed_as_declared(inputs, expected):
    assert example_request(metadata_with(inputs)) == {"instances": expected}
