"""Why a JSON value is not a tensor of a given dtype, in TF Serving's own words.

`rest_codec` turns valid JSON into arrays with one numpy call; only when that
fails does it come here, to walk the value as TF Serving's
`tensorflow_serving/util/json_tensor.cc` walks every request (the shape from
the first element of each level, then every leaf against the dtype), and
report the first problem with that file's message. Keeping the walk off the
valid path keeps REST predict at numpy speed.
"""
from __future__ import annotations

import base64
import binascii

import orjson

from hubml.serving import dtypes

_SHOWN_CHARS = 200
# What a JSON leaf must be for each dtype (json_tensor.cc AddValueToTensor); bool is no number there.
_INT_RANGES = {"DT_INT32": (-2**31, 2**31 - 1), "DT_INT16": (-2**31, 2**31 - 1), "DT_INT8": (-2**31, 2**31 - 1),
               "DT_UINT8": (-2**31, 2**31 - 1), "DT_INT64": (-2**63, 2**63 - 1), "DT_UINT32": (0, 2**32 - 1),
               "DT_UINT64": (0, 2**64 - 1)}


def show(value) -> str:
    """A JSON value as error messages quote it (shortened)."""
    try:
        text = orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):  # nested past orjson's writer limit
        text = "[...]"
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "..."


def json_type(value) -> str:
    """rapidjson's name of a value's type (json_tensor.cc JsonTypeString)."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "True" if value else "False"
    return {dict: "Object", list: "Array", str: "String"}.get(type(value), "Number")


def type_label(dtype_name: str) -> str:
    """TensorFlow's DataTypeString: DT_FLOAT -> float."""
    return dtype_name.removeprefix("DT_").lower()


def dense_shape(value) -> list[int]:
    """The shape TF Serving reads off a value: the length of the first list at each level."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def tensor_error(value, dtype_name: str) -> tuple[str, str] | None:
    """(status code, message) for the first reason `value` is no dense tensor of `dtype_name`, or None."""
    shape = dense_shape(value)
    pending = [(value, 0)]  # an explicit stack: nesting as deep as the parser allows never recurses
    while pending:
        item, level = pending.pop()
        if isinstance(item, list):
            if level >= len(shape):
                return "INVALID_ARGUMENT", f"Encountered list at unexpected level: {level} expected < {len(shape)}"
            if len(item) != shape[level]:
                return "INVALID_ARGUMENT", (f"Encountered list at unexpected size: {len(item)} at level: {level} "
                                            f"expected size: {shape[level]}")
            pending.extend((inner, level + 1) for inner in reversed(item))
        elif level != len(shape):
            return "INVALID_ARGUMENT", (f"JSON Value: {show(item)} found at incorrect level: {level + 1} in the "
                                        f"JSON DOM. Expected at level: {len(shape)}")
        else:
            error = leaf_error(item, dtype_name)
            if error:
                return error
    return None


def leaf_error(value, dtype_name: str) -> tuple[str, str] | None:
    """Why one JSON leaf cannot be a value of `dtype_name` (json_tensor.cc AddValueToTensor), or None."""
    wrong_type = ("INVALID_ARGUMENT", f"JSON Value: {show(value)} Type: {json_type(value)} is not of expected type: "
                                      f"{type_label(dtype_name)}")
    if dtype_name == dtypes.STRING:
        if isinstance(value, dict):
            return base64_error(value)
        return None if isinstance(value, str) else wrong_type
    if isinstance(value, dict):
        return wrong_type
    if dtype_name in ("DT_FLOAT", "DT_DOUBLE"):
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else wrong_type
    if dtype_name == "DT_BOOL":
        return None if isinstance(value, bool) else wrong_type
    if dtype_name in _INT_RANGES:
        low, high = _INT_RANGES[dtype_name]
        is_int = isinstance(value, int) and not isinstance(value, bool)
        return None if is_int and low <= value <= high else wrong_type
    return "UNIMPLEMENTED", f"Conversion of JSON Value: {show(value)} to type: {type_label(dtype_name)}"


def base64_error(value: dict) -> tuple[str, str] | None:
    """Why `value` is no `{"b64": "<base64>"}` object, or None."""
    if set(value) != {"b64"} or not isinstance(value["b64"], str):
        return "INVALID_ARGUMENT", f"JSON Value: {show(value)} not formatted correctly for base64 data"
    try:
        base64.b64decode(value["b64"], validate=True)
    except (binascii.Error, ValueError):
        return "INVALID_ARGUMENT", "Unable to base64 decode"
    return None
