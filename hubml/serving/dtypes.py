"""TensorFlow's numeric DataTypes by name: their numpy dtypes and the TensorProto field of their values.

Kept free of TensorFlow imports so the REST predict client, which only sees
dtype names in a model's metadata JSON, never loads TensorFlow
(`import tensorflow` takes 10-20 s the first time in a notebook).
"""
from __future__ import annotations

import numpy as np

from hubml.exceptions import ServingError

STRING = "DT_STRING"
# DataType name -> (numpy dtype, the repeated TensorProto field its values travel in)
NUMERIC = {
    "DT_FLOAT": (np.float32, "float_val"),
    "DT_DOUBLE": (np.float64, "double_val"),
    "DT_INT32": (np.int32, "int_val"),
    "DT_UINT8": (np.uint8, "int_val"),
    "DT_INT16": (np.int16, "int_val"),
    "DT_INT8": (np.int8, "int_val"),
    "DT_UINT16": (np.uint16, "int_val"),
    "DT_INT64": (np.int64, "int64_val"),
    "DT_UINT32": (np.uint32, "uint32_val"),
    "DT_UINT64": (np.uint64, "uint64_val"),
    "DT_BOOL": (np.bool_, "bool_val"),
    "DT_HALF": (np.float16, "half_val"),
}


def numpy_dtype_of(name: str) -> np.dtype:
    """The numpy dtype of a DataType name such as "DT_FLOAT" (object for strings)."""
    name = name.removesuffix("_REF")
    if name == STRING:
        return np.dtype(object)
    if name not in NUMERIC:
        raise ServingError("UNIMPLEMENTED", f"tensor dtype {name} is not supported")
    return np.dtype(NUMERIC[name][0])


def type_label_of_numpy(dtype: np.dtype) -> str:
    """TensorFlow's name of a numpy dtype's type, as its errors print it (float32 -> float, object -> string)."""
    if dtype.kind in "OSU":
        return "string"
    for name, (numpy_type, _) in NUMERIC.items():
        if np.dtype(numpy_type) == dtype:
            return name.removeprefix("DT_").lower()
    return dtype.name
