"""numpy arrays <-> `TensorProto`, without TensorFlow's Python ops.

`tf.make_tensor_proto` / `tf.make_ndarray` cost tens of microseconds of Python
per call; numeric tensors here travel as one `tensor_content` byte string (the
form `tf.make_tensor_proto` itself produces), so converting is a memory copy.
Both sides read every form a TF Serving client may send (repeated `*_val`
fields, a single value broadcast to the shape, or `tensor_content`).
"""
from __future__ import annotations

import numpy as np
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

from hubml.exceptions import ServingError

# DataType -> (numpy dtype, the repeated field TensorProto keeps such values in)
_NUMERIC = {
    types_pb2.DT_FLOAT: (np.float32, "float_val"),
    types_pb2.DT_DOUBLE: (np.float64, "double_val"),
    types_pb2.DT_INT32: (np.int32, "int_val"),
    types_pb2.DT_UINT8: (np.uint8, "int_val"),
    types_pb2.DT_INT16: (np.int16, "int_val"),
    types_pb2.DT_INT8: (np.int8, "int_val"),
    types_pb2.DT_UINT16: (np.uint16, "int_val"),
    types_pb2.DT_INT64: (np.int64, "int64_val"),
    types_pb2.DT_UINT32: (np.uint32, "uint32_val"),
    types_pb2.DT_UINT64: (np.uint64, "uint64_val"),
    types_pb2.DT_BOOL: (np.bool_, "bool_val"),
    types_pb2.DT_HALF: (np.float16, "half_val"),
}
_DTYPE_OF_NUMPY = {np.dtype(numpy_type): dtype for dtype, (numpy_type, _) in _NUMERIC.items()}
# Reference dtypes (DT_FLOAT_REF ...) carry values of their base type.
_REF_OFFSET = 100


def base_dtype(dtype: int) -> int:
    return dtype - _REF_OFFSET if dtype > _REF_OFFSET else dtype


def numpy_dtype(dtype: int) -> np.dtype:
    """The numpy dtype of a `DataType` enum value (object for strings)."""
    dtype = base_dtype(dtype)
    if dtype == types_pb2.DT_STRING:
        return np.dtype(object)
    if dtype not in _NUMERIC:
        raise ServingError("UNIMPLEMENTED", f"tensor dtype {types_pb2.DataType.Name(dtype)} is not supported")
    return np.dtype(_NUMERIC[dtype][0])


def dtype_name(dtype: int) -> str:
    return types_pb2.DataType.Name(dtype)


def to_ndarray(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """Decode a TensorProto the way TensorFlow does."""
    shape = [dim.size for dim in proto.tensor_shape.dim]
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
    count = int(np.prod(shape)) if shape else 1
    if values.size == count:
        return values.reshape(shape)
    if values.size == 0:
        return np.zeros(shape, dtype=numpy_type) if numpy_type != object else np.full(shape, b"", dtype=object)
    if values.size < count:  # TensorFlow repeats the last value to fill the shape
        padded = np.concatenate([values, np.repeat(values[-1:], count - values.size)])
        return padded.reshape(shape)
    raise ServingError("INVALID_ARGUMENT", f"tensor has {values.size} values but shape {shape} holds {count}")


def from_ndarray(array: np.ndarray, dtype: int | None = None) -> tensor_pb2.TensorProto:
    """Encode an array (numbers, bool, bytes or str) as a TensorProto."""
    array = np.asarray(array)
    shape = tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=size) for size in array.shape])
    if array.dtype.kind in "OSU" or dtype == types_pb2.DT_STRING:
        strings = [value.encode() if isinstance(value, str) else bytes(value) for value in array.ravel().tolist()]
        return tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, tensor_shape=shape, string_val=strings)
    if dtype is None:
        if array.dtype not in _DTYPE_OF_NUMPY:
            raise ServingError("INVALID_ARGUMENT", f"numpy dtype {array.dtype} has no TensorFlow equivalent")
        dtype = _DTYPE_OF_NUMPY[array.dtype]
    content = np.ascontiguousarray(array, dtype=numpy_dtype(dtype)).tobytes()
    return tensor_pb2.TensorProto(dtype=base_dtype(dtype), tensor_shape=shape, tensor_content=content)
