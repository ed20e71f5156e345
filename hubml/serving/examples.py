"""An example predict request built from a model's serving signature, so it works as given.

The shape and dtype of each input come from TF Serving's metadata JSON
(`metadata.signature_def.signature_def[<key>].inputs`). The first dimension is
the batch: one instance is made, each of its other dimensions at its size (1
where the size is unknown), filled with a value of the input's type. One input
gives `{"instances": [value]}`; several give `{"instances": [{name: value}]}`,
TF Serving's row format.
"""
from __future__ import annotations

from typing import Any

from hubml.serving.dtypes import STRING, numpy_dtype_of

DEFAULT_SIGNATURE = "serving_default"
UNKNOWN_SIZE_AS = 1


def example_request(metadata: dict[str, Any], signature_name: str = DEFAULT_SIGNATURE) -> dict[str, Any]:
    """TF Serving's REST predict body with one instance shaped and typed as the signature asks."""
    signature = metadata["metadata"]["signature_def"]["signature_def"][signature_name]
    values = {name: instance_value(spec) for name, spec in sorted(signature["inputs"].items())}
    instance = next(iter(values.values())) if len(values) == 1 else values
    body: dict[str, Any] = {"instances": [instance]}
    if signature_name != DEFAULT_SIGNATURE:
        body["signature_name"] = signature_name
    return body


def instance_value(spec: dict[str, Any]) -> Any:
    """A value of one instance of this input: the tensor's shape without its batch dimension."""
    shape = spec.get("tensor_shape", {})
    sizes = [int(dim.get("size", -1)) for dim in shape.get("dim", [])]
    value = element_of(spec.get("dtype", "DT_FLOAT"))
    for size in reversed(sizes[1:]):
        value = [value] * (size if size > 0 else UNKNOWN_SIZE_AS)
    return value


def element_of(dtype: str) -> Any:
    if dtype == STRING:
        return "text"
    kind = numpy_dtype_of(dtype).kind
    return {"b": False, "i": 0, "u": 0}.get(kind, 0.5)
