"""numpy arrays <-> `TensorProto`, without TensorFlow's Python ops.

`tf.make_tensor_proto` / `tf.make_ndarray` cost tens of microseconds of Python
per call; numeric tensors a client sends travel as one `tensor_content` byte
string (the form `tf.make_tensor_proto` itself produces), so converting is a
memory copy, and the server answers in the typed fields, as TF Serving does.
Both sides read every form a TF Serving client may send (repeated `*_val`
fields, a single value broadcast to the shape, or `tensor_content`).
"""
from __future__ import annotations

import numpy as np
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

from hubml.exceptions import ServingError
from hubml.serving.dtypes import NUMERIC, numpy_dtype_of

# DataType -> (numpy dtype, the repeated field TensorProto keeps such values in)
_NUMERIC = {types_pb2.DataType.Value(name): spec for name, spec in NUMERIC.items()}
_KNOWN = set(types_pb2.DataType.values())
# A request may send fewer values than its shape holds (TensorFlow repeats the last one); past this many
# elements that is refused rather than allocating gigabytes for a few bytes of request.
MAX_FILLED_ELEMENTS = 1 << 26
_DTYPE_OF_NUMPY = {np.dtype(numpy_type): dtype for dtype, (numpy_type, _) in _NUMERIC.items()}
# Reference dtypes (DT_FLOAT_REF ...) carry values of their base type.
_REF_OFFSET = 100
# Every supported DataType and its reference twin -> numpy dtype
_NUMPY_OF_DTYPE = {dtype + offset: np.dtype(numpy_type) for dtype, (numpy_type, _) in _NUMERIC.items()
                   for offset in (0, _REF_OFFSET)}
_NUMPY_OF_DTYPE.update({types_pb2.DT_STRING: np.dtype(object), types_pb2.DT_STRING_REF: np.dtype(object)})


def base_dtype(dtype: int) -> int:
    return dtype - _REF_OFFSET if dtype > _REF_OFFSET else dtype


def numpy_dtype(dtype: int) -> np.dtype:
    """The numpy dtype of a `DataType` enum value (object for strings)."""
    found = _NUMPY_OF_DTYPE.get(dtype)  # on every request: one dict lookup
    if found is not None:
        return found
    dtype = base_dtype(dtype)
    return numpy_dtype_of(types_pb2.DataType.Name(dtype) if dtype in _KNOWN else f"DataType {dtype}")


def dtype_name(dtype: int) -> str:
    return types_pb2.DataType.Name(dtype)


def to_ndarray(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """Decode a TensorProto the way TensorFlow does."""
    shape = [dim.size for dim in proto.tensor_shape.dim]
    if any(size < 0 for size in shape):
        raise ServingError("INVALID_ARGUMENT", f"tensor shape {shape} has a negative dimension")
    dtype = base_dtype(proto.dtype)
    if dtype == types_pb2.DT_STRING:
        values = np.empty(len(proto.string_val), dtype=object)
        values[:] = list(proto.string_val)
        return _fill(values, shape, np.dtype(object))
    numpy_type = numpy_dtype(dtype)
    if proto.tensor_content:
        try:
            return np.frombuffer(proto.tensor_content, dtype=numpy_type).reshape(shape)
        except ValueError as error:
            raise ServingError("INVALID_ARGUMENT", f"tensor_content does not fit shape {shape}: {error}") from error
    field = _NUMERIC[dtype][1]
    if dtype == types_pb2.DT_HALF:
        values = np.asarray(proto.half_val, dtype=np.uint16).view(np.float16)
    else:
        values = np.asarray(getattr(proto, field), dtype=numpy_type)
    return _fill(values, shape, numpy_type)


def _fill(values: np.ndarray, shape: list[int], numpy_type: np.dtype) -> np.ndarray:
    count = int(np.prod(shape, dtype=object)) if shape else 1
    if values.size == count:
        return values.reshape(shape)
    if count > MAX_FILLED_ELEMENTS:
        raise ServingError("INVALID_ARGUMENT", f"tensor of shape {shape} holds {count} values, more than the "
                                               f"{MAX_FILLED_ELEMENTS} a broadcast value may fill")
    if values.size == 0:
        return np.zeros(shape, dtype=numpy_type) if numpy_type != object else np.full(shape, b"", dtype=object)
    if values.size < count:  # TensorFlow repeats the last value to fill the shape
        padded = np.concatenate([values, np.repeat(values[-1:], count - values.size)])
        return padded.reshape(shape)
    raise ServingError("INVALID_ARGUMENT", f"tensor has {values.size} values but shape {shape} holds {count}")


def _shape_proto(array: np.ndarray) -> tensor_shape_pb2.TensorShapeProto:
    return tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=size)
                                                  for size in array.shape])


def _string_proto(array: np.ndarray, shape) -> tensor_pb2.TensorProto:
    strings = [value.encode() if isinstance(value, str) else bytes(value) for value in array.ravel().tolist()]
    return tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, tensor_shape=shape, string_val=strings)


def _tensor_dtype(array: np.ndarray, dtype: int | None) -> int:
    if dtype is not None:
        return base_dtype(dtype)
    if array.dtype not in _DTYPE_OF_NUMPY:
        raise ServingError("INVALID_ARGUMENT", f"numpy dtype {array.dtype} has no TensorFlow equivalent")
    return _DTYPE_OF_NUMPY[array.dtype]


def from_ndarray(array: np.ndarray, dtype: int | None = None) -> tensor_pb2.TensorProto:
    """Encode an array (numbers, bool, bytes or str) as a TensorProto, numbers in `tensor_content`
    (what a client sends: one memory copy)."""
    array = np.asarray(array)
    if array.dtype.kind in "OSU" or dtype == types_pb2.DT_STRING:
        return _string_proto(array, _shape_proto(array))
    dtype = _tensor_dtype(array, dtype)
    content = np.ascontiguousarray(array, dtype=numpy_dtype(dtype)).tobytes()
    return tensor_pb2.TensorProto(dtype=dtype, tensor_shape=_shape_proto(array), tensor_content=content)


def to_proto_fields(array: np.ndarray, dtype: int | None = None) -> tensor_pb2.TensorProto:
    """Encode an array with its values in the typed repeated field (`float_val`, `int64_val`, ...), as
    TF Serving's Predict answers by default (predict_util.cc: kAsProtoField, "for backward
    compatibility"): clients that read `outputs[name].float_val` find their values there."""
    array = np.asarray(array)
    if array.dtype.kind in "OSU" or dtype == types_pb2.DT_STRING:
        return _string_proto(array, _shape_proto(array))
    dtype = _tensor_dtype(array, dtype)
    values = np.ascontiguousarray(array, dtype=numpy_dtype(dtype)).ravel()
    if dtype == types_pb2.DT_HALF:  # half_val holds each value's 16 bits
        values = values.view(np.uint16)
    proto = tensor_pb2.TensorProto(dtype=dtype, tensor_shape=_shape_proto(array))
    getattr(proto, _NUMERIC[dtype][1]).extend(values.tolist())
    return proto
