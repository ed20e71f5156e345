"""TF Serving's REST JSON <-> numpy tensors and `tf.Example`s.

Requests are parsed by orjson and turned into arrays by numpy in one call
per input; responses hand numpy arrays straight to orjson, so no Python loop
runs over the elements of a numeric tensor in either direction. Strings
travel as UTF-8 text or `{"b64": ...}`, as in TF Serving (an output whose
name ends in `_bytes` is always base64).
"""
from __future__ import annotations

import base64
import json

import numpy as np
import orjson
from tensorflow.core.example import example_pb2, feature_pb2
from tensorflow.core.framework import types_pb2

from hubml.exceptions import ServingError
from hubml.serving.json_errors import base64_error, dense_shape, json_type, show, tensor_error
from hubml.serving.tensors import base_dtype, dtype_name, numpy_dtype

_DUMP_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
# The numpy kinds a JSON array may parse to for an input of each kind: JSON integers feed float inputs,
# JSON decimals never feed integer ones (json_tensor.cc AddValueToTensor).
_JSON_KINDS = {"f": "fiu", "i": "iu", "u": "iu", "b": "b"}
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_FLOAT_TYPES = {types_pb2.DT_FLOAT: np.float32, types_pb2.DT_DOUBLE: np.float64, types_pb2.DT_HALF: np.float16}


def invalid(message: str) -> ServingError:
    return ServingError("INVALID_ARGUMENT", message)


def parse_body(body: bytes) -> dict:
    if not body:  # json_tensor.cc ParseJson's own words; orjson's differ
        raise invalid("JSON Parse error: The document is empty")
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        request = _with_non_finite_words(body)
        if request is None:
            raise invalid(f"JSON Parse error: {_rapidjson_reason(str(error))} at offset: {error.pos}") from error
    if not isinstance(request, dict):
        raise invalid(f"JSON Value: {show(request)} Is not object")
    return request


# orjson's words for a parse error -> rapidjson's (GetParseError_En), which TF Serving's errors quote.
_PARSE_REASONS = (
    ("after document", "The document root must not be followed by other values."),
    ("expected ',' or ']'", "Missing a comma or ']' after an array element."),
    ("expected ',' or '}'", "Missing a comma or '}' after an object member."),
    ("expected ':'", "Missing a colon after a name of object member."),
    ("string key", "Missing a name for object member."),
    ("not valid UTF-8", "Invalid encoding in string."),
)


def _with_non_finite_words(body: bytes):
    """The document when it is JSON but for NaN, Infinity or -Infinity, which TF Serving's parser accepts
    (kParseNanAndInfFlag) and orjson refuses; None otherwise."""
    if b"NaN" not in body and b"Infinity" not in body:
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _rapidjson_reason(orjson_message: str) -> str:
    return next((reason for words, reason in _PARSE_REASONS if words in orjson_message), "Invalid value.")


def dumps(document) -> bytes:
    return orjson.dumps(document, option=_DUMP_OPTIONS)


def signature_name_of(request: dict) -> str | None:
    """The request's optional `signature_name` (json_tensor.cc FillSignature)."""
    name = request.get("signature_name")
    if name is not None and not isinstance(name, str):
        raise invalid(f"JSON Value: {show(request)} not formatted correctly. 'signature_name' key must be a "
                      "string value.")
    return name or None


def predict_inputs(request: dict, signature, signature_name: str | None) -> tuple[dict[str, np.ndarray], bool]:
    """The named input arrays of a predict request, and whether it used the row format, checked
    in the order json_tensor.cc FillPredictRequestFromJson checks them."""
    if not signature.inputs:
        raise invalid(f"Failed to get input map for signature: {signature_name or 'DEFAULT'}")
    if "instances" in request and "inputs" in request:
        raise invalid(f"JSON Value: {show(request)} Not formatted correctly expecting only one of 'inputs' or "
                      "'instances' keys to exist ")
    if "instances" in request:
        instances = request["instances"]
        if not isinstance(instances, list):
            raise invalid(f"JSON Value: {show(request)} Excepting 'instances' to be an list/array")
        if not instances:
            raise invalid(f"JSON Value: {show(request)} No values in 'instances' array")
        return _row_inputs(instances, signature), True
    if "inputs" in request:
        return _columnar_inputs(request["inputs"], signature), False
    raise invalid("Missing 'inputs' or 'instances' key")


def _row_inputs(instances: list, signature) -> dict[str, np.ndarray]:
    names = sorted(signature.inputs)
    if not isinstance(instances[0], dict) and len(names) > 1:
        raise invalid("instances is a plain list, but expecting list of objects as multiple input tensors required "
                      "as per tensorinfo_map")
    if not _is_named(instances[0]):
        for index, instance in enumerate(instances):
            if _is_named(instance):
                raise invalid(f"Expecting value/list but got object at item {index} of input list")
        return {names[0]: _instances_array(instances, signature, names[0], keyed=False)}
    for index, instance in enumerate(instances):
        if not _is_named(instance):
            raise invalid(f"Expecting object but got list at item {index} of input list")
        for key in instance:
            if key not in signature.inputs:
                raise invalid(f"Failed to process element: {index} key: {key} of 'instances' list. Error: "
                              f"INVALID_ARGUMENT: JSON object: does not have named input: {key}")
        if len(instance) != len(names):
            raise invalid(f"Failed to process element: {index} of 'instances' list. JSON object: {show(instance)} "
                          f"must only have keys: {','.join(names)}")
    return {name: _instances_array([instance[name] for instance in instances], signature, name, keyed=True)
            for name in names}


def _columnar_inputs(value, signature) -> dict[str, np.ndarray]:
    names = sorted(signature.inputs)
    if not _is_named(value):
        if len(names) > 1:
            raise invalid("inputs is a plain value/list, but expecting an object as multiple input tensors required "
                          "as per tensorinfo_map")
        return {names[0]: _tensor_array(value, signature, names[0])}
    # Keys the signature does not name are ignored, as TF Serving's FillTensorMapFromInputsMap ignores them
    # (its gRPC Predict refuses them: "Sent extra").
    missing = [name for name in names if name not in value]
    if missing:
        raise invalid(f"Missing named input: {missing[0]} in 'inputs' object.")
    return {name: _tensor_array(value[name], signature, name) for name in names}


def numeric_inputs(signature, values: np.ndarray) -> dict[str, np.ndarray] | None:
    """`values` as the one float input of `signature`; None when the signature wants anything else."""
    if len(signature.inputs) != 1:
        return None
    (name, info), = signature.inputs.items()
    numpy_type = _FLOAT_TYPES.get(base_dtype(info.dtype))
    return None if numpy_type is None else {name: values.astype(numpy_type, copy=False)}


def _is_named(value) -> bool:
    return isinstance(value, dict) and not (len(value) == 1 and "b64" in value)


def _tensor_array(value, signature, name: str) -> np.ndarray:
    """A columnar input as an array of its dtype, or TF Serving's error for it."""
    array = _typed_array(value, signature.inputs[name].dtype)
    if array is None:
        code, message = tensor_error(value, dtype_name(base_dtype(signature.inputs[name].dtype))) or _ragged()
        raise ServingError(code, _naming(message, name))
    return array


def _instances_array(column: list, signature, name: str, keyed: bool) -> np.ndarray:
    """The rows of one input, batched; on failure TF Serving's error for the first bad row."""
    dtype = signature.inputs[name].dtype
    array = _typed_array(column, dtype)
    if array is not None:
        return array
    where = f" key: {name}" if keyed else ""
    first_shape, first_size = None, None
    for index, item in enumerate(column):
        error = tensor_error(item, dtype_name(base_dtype(dtype)))
        shape = dense_shape(item)
        size = int(np.prod(shape)) if shape else 1
        if error is None and first_shape is not None and size != first_size:
            error = "INVALID_ARGUMENT", f"Expecting tensor size: {first_size} but got: {size}"
        elif error is None and first_shape is not None and shape != first_shape:
            error = "INVALID_ARGUMENT", f"Expecting shape {_shape_text(first_shape)} but got: {_shape_text(shape)}"
        if error is not None:
            code, message = error
            message = (f"Failed to process element: {index}{where} of 'instances' list. Error: {code}: {message}")
            raise ServingError(code, message if keyed else _naming(message, name))
        first_shape, first_size = (shape, size) if first_shape is None else (first_shape, first_size)
    code, message = _ragged()
    raise ServingError(code, _naming(message, name))


def _naming(message: str, name: str) -> str:
    """TF Serving's message, then the input it is about where the message does not say
    (hubml's addition; TF Serving's own text stays a prefix, for clients that match on it)."""
    return f"{message} (input: {name})"


def _ragged() -> tuple[str, str]:
    # Every leaf passed TF Serving's checks but numpy still refused the value: not one dense tensor.
    return "INVALID_ARGUMENT", "JSON values do not form a dense tensor"


def _shape_text(shape: list[int]) -> str:
    return "[" + ",".join(str(size) for size in shape) + "]"


def _typed_array(value, dtype: int) -> np.ndarray | None:
    """`value` as an array of `dtype` when every leaf is a JSON value of that type; None otherwise."""
    if base_dtype(dtype) == types_pb2.DT_STRING:
        return _string_array(value)
    target = numpy_dtype(dtype)
    try:
        array = np.asarray(value)
    except (ValueError, TypeError, OverflowError):
        return None
    if array.dtype.kind not in _JSON_KINDS[target.kind]:
        return None  # strings, objects, nulls, ragged lists, or floats for an integer input
    if target.kind in "iu" and array.size and (array.min() < np.iinfo(target).min or
                                                array.max() > np.iinfo(target).max):
        return None
    return array.astype(target, copy=False)


def _string_array(value) -> np.ndarray | None:
    def decode(item):
        if isinstance(item, list):
            return [decode(inner) for inner in item]
        if isinstance(item, dict) and base64_error(item) is None:
            return base64.b64decode(item["b64"])
        if isinstance(item, str):
            return item.encode()
        raise ValueError("not a string")

    try:
        array = np.array(decode(value), dtype=object)
    except (ValueError, RecursionError):
        return None
    if any(isinstance(item, list) for item in array.ravel()):
        return None
    return array


def encode_value(name: str, value: np.ndarray):
    """An output array in a form orjson writes directly."""
    if value.dtype == object or value.dtype.kind == "S":
        as_b64 = name.endswith("_bytes")
        return _strings_to_json(np.asarray(value).tolist(), as_b64)
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        return _with_non_finite(value)
    return value if value.flags.c_contiguous else np.ascontiguousarray(value)


# TF Serving writes non-finite floats as the bare words NaN, Infinity and -Infinity (json_tensor.cc
# WriteDecimal) where orjson would write null; they are spliced in as raw JSON.
_NON_FINITE = {"nan": orjson.Fragment(b"NaN"), "inf": orjson.Fragment(b"Infinity"),
               "-inf": orjson.Fragment(b"-Infinity")}


def _with_non_finite(value: np.ndarray):
    """A float array as nested lists of numpy scalars (orjson writes each at its own precision), the
    non-finite ones as TF Serving's words. Only arrays holding such a value take this slower path."""
    if value.ndim:
        return [_with_non_finite(row) for row in value]
    return value if np.isfinite(value) else _NON_FINITE[str(float(value))]


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
    """Serialized `tf.Example`s of a classify/regress request, `context` merged into each
    (json_tensor.cc FillClassifyRegressRequestFromJson, its checks and messages)."""
    context = example_from_features(request["context"]) if "context" in request else example_pb2.Example()
    if "examples" not in request:  # the same words for regress: TF Serving's own
        raise invalid(f"JSON Value: {show(request)} When method is classify, key 'examples' is expected and was "
                      "not found")
    examples = request["examples"]
    if not isinstance(examples, list):
        raise invalid(f"JSON Value: {show(request)} Expecting 'examples' value to be an list/array")
    if not examples:
        raise invalid(f"JSON Value: {show(request)} 'examples' value is an empty array")
    serialized = []
    for item in examples:
        example = example_pb2.Example()
        example.CopyFrom(context)
        example.MergeFrom(example_from_features(item))
        serialized.append(example.SerializeToString())
    return serialized


def example_from_features(features: dict) -> example_pb2.Example:
    """A `tf.Example` from TF Serving's JSON form of one example's features (json_tensor.cc
    MakeExampleFromJsonObject)."""
    if not isinstance(features, dict):
        raise invalid(f"Example must be JSON object but got JSON {json_type(features)}")
    example = example_pb2.Example()
    for key, value in features.items():
        example.features.feature[key].CopyFrom(_feature(key, value if isinstance(value, list) else [value]))
    return example


_FEATURE_KINDS = {"bytes_list": "bytes", "float_list": "float", "int64_list": "int64"}


def _feature(name: str, values: list) -> feature_pb2.Feature:
    """One feature's values, all of one kind: strings and b64 bytes, decimals, or integers and booleans."""
    feature = feature_pb2.Feature()
    for value in values:
        kind, item = _feature_value(name, value)
        current = feature.WhichOneof("kind")
        if current not in (None, kind):
            raise invalid(f"Unexpected element type in feature: {name} expecting type: {_FEATURE_KINDS[current]}")
        getattr(feature, kind).value.append(item)
    return feature


def _feature_value(name: str, value) -> tuple[str, object]:
    if isinstance(value, bool):
        return "int64_list", int(value)
    if isinstance(value, int):
        if value > 2**63 - 1 or value < -2**63:
            raise invalid(f"Feature: {name} has uint64 element. Only int64 is supported.")
        return "int64_list", value
    if isinstance(value, float):
        if abs(value) > _FLOAT32_MAX and value == value and abs(value) != float("inf"):
            raise invalid(f"Cannot convert JSON value: {value} to float without loss of precision.")
        return "float_list", value
    if isinstance(value, str):
        return "bytes_list", value.encode()
    if isinstance(value, dict) and base64_error(value) is None:
        return "bytes_list", base64.b64decode(value["b64"])
    if isinstance(value, dict) and set(value) == {"b64"}:
        raise invalid(base64_error(value)[1])
    raise invalid(f"Feature: {name} has element with unexpected JSON type: {json_type(value)}")


# The key is "results", as TF Serving's server writes it (json_tensor.cc kClassifyRegressResponseKey and
# http_rest_api_handler_test.cc); json_tensor.h and the REST API guide say "result".
# Scores and values are float32 in the protos and written at float32 precision, as TF Serving writes them
# (0.2, not 0.20000000298023224).
def classification_json(result) -> dict:
    return {"results": [[[c.label, encode_value("score", np.float32(c.score))] for c in item.classes]
                        for item in result.classifications]}


def regression_json(result) -> dict:
    return {"results": encode_value("values", np.asarray([item.value for item in result.regressions], np.float32))}
