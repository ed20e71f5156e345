"""TF Serving's REST JSON <-> numpy tensors and `tf.Example`s.

Requests are parsed by orjson and turned into arrays by numpy in one call
per input; responses hand numpy arrays straight to orjson, so no Python loop
runs over the elements of a numeric tensor in either direction. Strings
travel as UTF-8 text or `{"b64": ...}`, as in TF Serving (an output whose
name ends in `_bytes` is always base64).
"""
from __future__ import annotations

import base64

import numpy as np
import orjson
from tensorflow.core.example import example_pb2, feature_pb2
from tensorflow.core.framework import types_pb2

from hubml.exceptions import ServingError
from hubml.serving.servable import coerce
from hubml.serving.tensors import base_dtype

_DUMP_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
_FLOAT_TYPES = {types_pb2.DT_FLOAT: np.float32, types_pb2.DT_DOUBLE: np.float64, types_pb2.DT_HALF: np.float16}


def invalid(message: str) -> ServingError:
    return ServingError("INVALID_ARGUMENT", message)


def parse_body(body: bytes) -> dict:
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise invalid(f"JSON Parse error: {error}") from error
    if not isinstance(request, dict):
        raise invalid("JSON Value: request body is not an object")
    return request


def dumps(document) -> bytes:
    return orjson.dumps(document, option=_DUMP_OPTIONS)


def predict_inputs(request: dict, signature) -> tuple[dict[str, np.ndarray], bool]:
    """The named input arrays of a predict request, and whether it used the row format."""
    if ("instances" in request) == ("inputs" in request):
        raise invalid("Missing 'inputs' or 'instances' key" if "inputs" not in request
                      else "Not allowed to have both 'inputs' and 'instances' keys")
    names = list(signature.inputs)
    if "instances" in request:
        instances = request["instances"]
        if not isinstance(instances, list):
            raise invalid("Expecting 'instances' to be an list/array")
        if instances and _is_named(instances[0]):
            columns = _columns_of(instances)
        elif len(names) == 1:
            columns = {names[0]: instances}
        else:
            raise invalid(f"Expecting each instance to be an object with keys {sorted(names)} for a signature "
                          f"with {len(names)} inputs")
        return {name: to_array(value, signature, name) for name, value in columns.items()}, True
    value = request["inputs"]
    columns = value if _is_named(value) else {names[0]: value} if len(names) == 1 else None
    if columns is None:
        raise invalid(f"Expecting 'inputs' to be an object with keys {sorted(names)}")
    return {name: to_array(item, signature, name) for name, item in columns.items()}, False


def numeric_inputs(signature, values: np.ndarray) -> dict[str, np.ndarray] | None:
    """`values` as the one float input of `signature`; None when the signature wants anything else."""
    if len(signature.inputs) != 1:
        return None
    (name, info), = signature.inputs.items()
    numpy_type = _FLOAT_TYPES.get(base_dtype(info.dtype))
    return None if numpy_type is None else {name: values.astype(numpy_type, copy=False)}


def _is_named(value) -> bool:
    return isinstance(value, dict) and not (len(value) == 1 and "b64" in value)


def _columns_of(instances: list) -> dict[str, list]:
    keys = set(instances[0])
    for index, instance in enumerate(instances):
        if not _is_named(instance) or set(instance) != keys:
            raise invalid(f"Failed to process element: {index} of 'instances' list. Error: Invalid argument: "
                          f"expecting an object with keys {sorted(keys)}")
    return {key: [instance[key] for instance in instances] for key in keys}


def to_array(value, signature, name: str) -> np.ndarray:
    """A JSON value as an array of the input's dtype; unknown names keep numpy's inference
    (the signature check that follows names them)."""
    info = signature.inputs.get(name)
    if info is not None and base_dtype(info.dtype) == types_pb2.DT_STRING:
        return _string_array(value, name)
    if info is not None and base_dtype(info.dtype) in _FLOAT_TYPES:
        try:  # the common case in one numpy call (no float64 copy); anything odd takes the checked path
            return np.asarray(value, dtype=_FLOAT_TYPES[base_dtype(info.dtype)])
        except (ValueError, TypeError):
            pass
    try:
        array = np.asarray(value)
    except ValueError as error:
        raise invalid(f"Failed to process input {name}: values do not form a tensor (ragged lists?): {error}") from error
    if array.dtype == object:
        raise invalid(f"Failed to process input {name}: values do not form a tensor of one type and shape")
    return array if info is None else coerce(array, info.dtype, name)


def _string_array(value, name: str) -> np.ndarray:
    def decode(item):
        if isinstance(item, list):
            return [decode(inner) for inner in item]
        if isinstance(item, dict) and set(item) == {"b64"}:
            try:
                return base64.b64decode(item["b64"], validate=True)
            except (ValueError, TypeError) as error:
                raise invalid(f"Failed to process input {name}: invalid base64 value") from error
        if isinstance(item, str):
            return item.encode()
        raise invalid(f"Failed to process input {name}: JSON Value: {item!r} is not of expected type: string")

    array = np.array(decode(value), dtype=object)
    if any(isinstance(item, list) for item in array.ravel()):
        raise invalid(f"Failed to process input {name}: values do not form a tensor (ragged lists?)")
    return array


def encode_value(name: str, value: np.ndarray):
    """An output array in a form orjson writes directly."""
    if value.dtype == object or value.dtype.kind == "S":
        as_b64 = name.endswith("_bytes")
        return _strings_to_json(np.asarray(value).tolist(), as_b64)
    return value if value.flags.c_contiguous else np.ascontiguousarray(value)


def _strings_to_json(item, as_b64: bool):
    if isinstance(item, list):
        return [_strings_to_json(inner, as_b64) for inner in item]
    if not as_b64:
        try:
            return item.decode()
        except UnicodeDecodeError:
            pass
    return {"b64": base64.b64encode(item).decode()}


def predict_response(outputs: dict[str, np.ndarray], row_format: bool) -> dict:
    if not row_format:
        if len(outputs) == 1:
            (name, value), = outputs.items()
            return {"outputs": encode_value(name, value)}
        return {"outputs": {name: encode_value(name, value) for name, value in outputs.items()}}
    rows = {value.shape[0] if value.ndim else None for value in outputs.values()}
    if len(rows) != 1 or None in rows:
        raise invalid("Tensors of the output do not share a batch size; use the columnar 'inputs' format "
                      f"(output shapes: { {name: list(value.shape) for name, value in outputs.items()} })")
    if len(outputs) == 1:
        (name, value), = outputs.items()
        return {"predictions": encode_value(name, value)}
    encoded = {name: encode_value(name, value) for name, value in outputs.items()}
    return {"predictions": [{name: value[row] for name, value in encoded.items()} for row in range(rows.pop())]}


def examples_from_json(request: dict) -> list[bytes]:
    """Serialized `tf.Example`s of a classify/regress request, `context` merged into each."""
    examples = request.get("examples")
    if not isinstance(examples, list):
        raise invalid("Expecting 'examples' to be an list/array")
    context = example_from_features(request.get("context", {}), "context")
    serialized = []
    for index, item in enumerate(examples):
        example = example_pb2.Example()
        example.CopyFrom(context)
        example.MergeFrom(example_from_features(item, f"examples[{index}]"))
        serialized.append(example.SerializeToString())
    return serialized


def example_from_features(features: dict, where: str = "example") -> example_pb2.Example:
    """A `tf.Example` from TF Serving's JSON form of one example's features."""
    if not isinstance(features, dict):
        raise invalid(f"Expecting {where} to be an object of feature values")
    example = example_pb2.Example()
    for key, value in features.items():
        example.features.feature[key].CopyFrom(_feature(value if isinstance(value, list) else [value], where, key))
    return example


def _feature(values: list, where: str, key: str) -> feature_pb2.Feature:
    if all(isinstance(v, (str, dict)) for v in values):
        data = [base64.b64decode(v["b64"]) if isinstance(v, dict) and "b64" in v else
                v.encode() if isinstance(v, str) else None for v in values]
        if None not in data:
            return feature_pb2.Feature(bytes_list=feature_pb2.BytesList(value=data))
    elif all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return feature_pb2.Feature(int64_list=feature_pb2.Int64List(value=values))
    elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return feature_pb2.Feature(float_list=feature_pb2.FloatList(value=values))
    raise invalid(f"Failed to process {where} feature {key!r}: values must be all numbers or all strings")


def classification_json(result) -> dict:
    return {"result": [[[c.label, c.score] for c in item.classes] for item in result.classifications]}


def regression_json(result) -> dict:
    return {"result": [item.value for item in result.regressions]}
