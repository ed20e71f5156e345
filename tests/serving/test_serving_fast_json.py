"""The simdjson fast path takes only plain rectangular numeric bodies, and reads them exactly."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubml.serving.fast_json import parse_numeric_request


@pytest.mark.parametrize("body, key, shape, signature", [
    (b'{"instances": [1, 2.5, -3e2]}', "instances", (3,), None),
    (b'{"inputs": [[1, 2], [3, 4]], "signature_name": "s"}', "inputs", (2, 2), "s"),
    (b' { "signature_name" : null , "instances" : [ [0.5] ] } ', "instances", (1, 1), None),
])
def test_plain_numeric_bodies_are_read(body, key, shape, signature):
    found_key, array, signature_name = parse_numeric_request(body)
    assert (found_key, array.shape, signature_name) == (key, shape, signature)
    np.testing.assert_array_equal(array, np.asarray(json.loads(body)[key], dtype=np.float64))


@pytest.mark.parametrize("body", [
    b'{"instances": [[1, 2], [3]]}',  # ragged
    b'{"instances": [[1, 2], [3, 4, 5], [6]]}',  # ragged with a fitting total
    b'{"instances": [[1, [2]], [3, 4]]}',  # deeper nesting simdjson would flatten
    b'{"instances": [[[1]]]}',  # 3-D: the general path handles it
    b'{"instances": [1, "2"]}', b'{"instances": [true]}', b'{"instances": [null]}',
    b'{"instances": [{"b64": "AA=="}]}', b'{"instances": [{"x": 1}]}',
    b'{"instances": []}', b'{"inputs": 3.0}', b'{"inputs": {"x": [1]}}',
    b'{"instances": [1], "inputs": [1]}', b'{"instances": [1], "extra": 1}',
    b'{"instances": [1], "signature_name": 5}', b'{"signature_name": "a[b", "instances": [1]}',
    b'[1, 2]', b'{"instances": [1,', b'', b'{"instances": [1e999]}',
])
def test_anything_else_goes_to_the_general_path(body):
    assert parse_numeric_request(body) is None


@given(st.lists(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=3, max_size=3),
                min_size=1, max_size=5))
def test_matrices_round_trip(rows):
    key, array, _ = parse_numeric_request(json.dumps({"instances": rows}).encode())
    np.testing.assert_array_equal(array, np.asarray(rows, dtype=np.float64))
