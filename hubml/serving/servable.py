"""One loaded model version: its SignatureDefs and a fast way to run them.

The SavedModel is loaded the way TF Serving loads it: the MetaGraphDef tagged
`serve` goes into its own graph and session, and a signature runs by feeding
and fetching the tensor names its SignatureDef lists. This serves TF1 and TF2
exports alike (TF1 `half_plus_three` declares signature shapes its graph
does not have, which `tf.saved_model.load` refuses), and a session callable
built once per (signature, outputs), run in the calling thread, costs ~0.02 ms
per one-row call where calling the
restored `serving_default` function costs ~0.35 ms (measured on the Keras MLP
of benchmarks/serving.py).

The first call with one row and the first with several rows each take
10-30 ms (oneDNN builds its kernels per shape class), so `warm_up` runs both
before a version is marked AVAILABLE.
"""
from __future__ import annotations

import logging
import threading
import time

import numpy as np
from tensorflow.core.framework import types_pb2

from hubml.exceptions import ServingError
from hubml.serving.dtypes import type_label_of_numpy
from hubml.serving.tensors import base_dtype, dtype_name, numpy_dtype

log = logging.getLogger(__name__)

# Ops run in the calling thread, not handed to TensorFlow's inter-op pool and back: 22 us instead
# of 78 us for one row of the benchmark's MLP, 201 instead of 263 us for 32 (CPU 22 against 112 us).
# Concurrent requests, not parallel branches of one graph, keep a server's cores busy; the intra-op
# pool still splits each large kernel.
CALLER_THREAD = -1
INIT_OP_SIGNATURE = "__saved_model_init_op"
DEFAULT_SIGNATURE = "serving_default"
PREDICTABLE_METHODS = ("tensorflow/serving/predict", "tensorflow/serving/classify", "tensorflow/serving/regress")
# tf.errors' codes are the canonical gRPC codes, in this order.
STATUS_NAMES = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
                "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
                "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"]


class Servable:
    """A model version loaded into its own TensorFlow session."""

    def __init__(self, name: str, version: int, path: str):
        import tensorflow as tf
        from tensorflow.core.protobuf.config_pb2 import CallableOptions

        self.name, self.version, self.path = name, version, path
        self._tf, self._callable_options = tf, CallableOptions
        self._graph = tf.Graph()
        self._session = tf.compat.v1.Session(graph=self._graph)
        with self._graph.as_default():
            meta_graph = tf.compat.v1.saved_model.loader.load(self._session, ["serve"], path)
        self.meta_graph = meta_graph
        self.signatures = {key: sig for key, sig in meta_graph.signature_def.items() if key != INIT_OP_SIGNATURE}
        self._callables: dict[tuple, tuple] = {}
        self._batch_shapes: dict[str, dict | None] = {}
        self._seconds_per_row: dict[str, float] = {}  # recent cost of each signature, for `expected_seconds`
        self._lock = threading.Lock()

    def signature(self, name: str | None):
        """The SignatureDef called `name` (`serving_default` when empty), or TF Serving's error."""
        key = name or DEFAULT_SIGNATURE
        if key not in self.signatures:
            raise ServingError("FAILED_PRECONDITION", f'Serving signature key "{key}" not found.')
        return self.signatures[key]

    def run(self, signature_name: str | None, inputs: dict[str, np.ndarray],
            output_keys: list[str] | None = None) -> dict[str, np.ndarray]:
        """Run a signature on numpy inputs; returns the requested (default: all) outputs."""
        key = signature_name or DEFAULT_SIGNATURE
        signature = self.signature(key)
        check_method(signature)
        check_input_names(signature, inputs)
        output_keys = sorted(output_keys or signature.outputs)
        input_keys, call = self._callable(key, signature, tuple(output_keys))
        feeds = [check_dtype(inputs[name], signature.inputs[name].dtype, index, name)
                 for index, name in enumerate(input_keys)]
        started = time.perf_counter()
        try:
            values = call(*feeds)
        except self._tf.errors.OpError as error:  # the model's own status and message, as TF Serving passes them on
            raise ServingError(STATUS_NAMES[error.error_code],
                               error.message + shape_mismatches(signature, input_keys, feeds)) from error
        per_row = (time.perf_counter() - started) / _rows(feeds)
        previous = self._seconds_per_row.get(key, per_row)
        self._seconds_per_row[key] = 0.8 * previous + 0.2 * per_row
        return dict(zip(output_keys, values))

    def expected_seconds(self, signature_name: str | None, inputs: dict[str, np.ndarray]) -> float | None:
        """How long running `inputs` should take, from recent calls (None before the first)."""
        per_row = self._seconds_per_row.get(signature_name or DEFAULT_SIGNATURE)
        return None if per_row is None else per_row * _rows(list(inputs.values()))

    def _callable(self, key: str, signature, output_keys: tuple[str, ...]):
        cache_key = (key, output_keys)
        found = self._callables.get(cache_key)
        if found is not None:
            return found
        for output in output_keys:
            if output not in signature.outputs:
                raise ServingError("INVALID_ARGUMENT", f"output tensor alias not found in signature: {output} "
                                   f"Outputs expected to be in the set {{{','.join(sorted(signature.outputs))}}}.")
        input_keys = sorted(signature.inputs)
        options = self._callable_options(feed=[signature.inputs[k].name for k in input_keys],
                                         fetch=[signature.outputs[k].name for k in output_keys])
        options.run_options.inter_op_thread_pool = CALLER_THREAD
        with self._lock:
            call = self._session._make_callable_from_options(options)  # noqa: SLF001 - the public API lacks it
            self._callables[cache_key] = (input_keys, call)
        return input_keys, call

    def batch_shapes(self, signature_name: str | None) -> dict[str, tuple[int, ...]] | None:
        """Memoised `batchable_shapes` of a signature."""
        key = signature_name or DEFAULT_SIGNATURE
        if key not in self._batch_shapes:
            self._batch_shapes[key] = batchable_shapes(self.signature(key))
        return self._batch_shapes[key]

    def warm_up(self, batch_sizes: tuple[int, ...] = (1, 2)) -> None:
        """Run each batchable numeric signature once per batch size (see module docstring)."""
        for key, signature in self.signatures.items():
            shapes = batchable_shapes(signature)
            if not shapes or any(base_dtype(info.dtype) == types_pb2.DT_STRING for info in signature.inputs.values()):
                continue
            for rows in batch_sizes:
                inputs = {name: np.zeros((rows, *shape), numpy_dtype(signature.inputs[name].dtype))
                          for name, shape in shapes.items()}
                try:
                    self.run(key, inputs)
                except ServingError as error:
                    log.info("warm-up of %s v%d %s skipped: %s", self.name, self.version, key, error)
                    break

    def close(self) -> None:
        self._session.close()


def _rows(values: list[np.ndarray]) -> int:
    return max(1, values[0].shape[0]) if values and values[0].ndim else 1


def batchable_shapes(signature) -> dict[str, tuple[int, ...]] | None:
    """Per input, the shape after the batch dimension, when every input and output has
    an unknown leading dimension and known others; None when the signature cannot batch."""
    shapes = {}
    for group in (signature.inputs, signature.outputs):
        for name, info in group.items():
            dims = [dim.size for dim in info.tensor_shape.dim]
            if info.tensor_shape.unknown_rank or not dims or dims[0] != -1 or -1 in dims[1:]:
                return None
            if group is signature.inputs:
                shapes[name] = tuple(dims[1:])
    return shapes or None


def check_method(signature) -> None:
    """Predict runs predict, classify and regress signatures only (predict_util.cc VerifySignature)."""
    if signature.method_name not in PREDICTABLE_METHODS:
        raise ServingError("INTERNAL", f"Expected prediction signature method_name to be one of "
                                       f"{{{', '.join(PREDICTABLE_METHODS)}}}. Was: {signature.method_name}")


def requested_outputs(signature, output_filter) -> list[str] | None:
    """The outputs a predict request asks for (None: all), with TF Serving's errors (predict_util.cc)."""
    for index, alias in enumerate(output_filter):
        if alias not in signature.outputs:
            raise ServingError("INVALID_ARGUMENT", f"output tensor alias not found in signature: {alias} "
                               f"Outputs expected to be in the set {{{','.join(sorted(signature.outputs))}}}.")
        if alias in output_filter[:index]:
            raise ServingError("INVALID_ARGUMENT", f"duplicate output tensor alias: {alias}")
    return list(output_filter) or None


def check_input_names(signature, inputs: dict) -> None:
    """TF Serving's checks of the sent input names (predict_util.cc VerifyRequestInputsSize, then
    PreProcessPrediction): the count first, then each name."""
    if len(inputs) == len(signature.inputs) and all(name in signature.inputs for name in inputs):
        return  # the common case, on every request: no sorting
    sent, expected = sorted(inputs), sorted(signature.inputs)
    if len(sent) != len(expected):
        raise ServingError("INVALID_ARGUMENT", (
            f"input size does not match signature: {len(sent)}!={len(expected)} len({{{','.join(sent)}}}) != "
            f"len({{{','.join(expected)}}}). Sent extra: {{{','.join(sorted(set(sent) - set(expected)))}}}. "
            f"Missing but required: {{{','.join(sorted(set(expected) - set(sent)))}}}."))
    for name in sent:
        if name not in signature.inputs:
            raise ServingError("INVALID_ARGUMENT", f"input tensor alias not found in signature: {name}. Inputs "
                                                   f"expected to be in the set {{{','.join(expected)}}}.")


def shape_mismatches(signature, input_keys: list[str], feeds: list[np.ndarray]) -> str:
    """After a failure inside the model, the inputs whose shapes the signature does not declare
    (hubml's addition: TF Serving checks no shapes before running, so its message names a node, not the input)."""
    found = []
    for name, value in zip(input_keys, feeds):
        info = signature.inputs[name].tensor_shape
        declared = [dim.size for dim in info.dim]
        if not info.unknown_rank and (len(declared) != value.ndim or any(
                size not in (-1, sent) for size, sent in zip(declared, value.shape))):
            found.append(f"input {name} has shape {list(value.shape)} where the signature declares {declared}")
    return f" ({'; '.join(found)})" if found else ""


def check_dtype(value: np.ndarray, dtype: int, index: int, name: str) -> np.ndarray:
    """`value` when it has the input's dtype; otherwise the error TensorFlow's session gives TF Serving for
    a mistyped feed (TF Serving casts nothing), naming the input too."""
    target = numpy_dtype(dtype)
    if value.dtype == target or (target == object and value.dtype.kind == "S"):
        return value
    provided = type_label_of_numpy(value.dtype)
    raise ServingError("INVALID_ARGUMENT", f"Expects arg[{index}] to be {dtype_name(base_dtype(dtype))[3:].lower()} "
                                           f"but {provided} is provided (input: {name})")
