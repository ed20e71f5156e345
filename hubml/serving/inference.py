"""What REST and gRPC share: run predict, classify and regress on a servable.

Both front ends resolve the servable through the `ModelManager`, then call
here with numpy inputs or `tensorflow.serving.Input` examples. Predict goes
through the batcher when batching is on and the signature can batch;
classify and regress follow TF Serving's signature contracts (a string
`inputs` tensor of serialized `tf.Example`s; `classes`/`scores` or
`outputs`).
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from tensorflow.core.example import example_pb2
from tensorflow_serving.apis import classification_pb2, regression_pb2

from hubml.exceptions import ServingError
from hubml.serving.batching import Batcher
from hubml.serving.servable import DEFAULT_SIGNATURE, Servable

# A model call expected to take less than this runs on the event loop itself: handing it to a
# worker thread and back costs more (one-row MLP of benchmarks/serving.py: 5,900 req/s inline
# against 2,800 through the pool, one process at concurrency 8).
INLINE_SECONDS = 0.0005
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"


class Inference:
    """Runs requests on servables, batched or direct; the model call never blocks the event loop."""

    def __init__(self, batcher: Batcher | None, executor: ThreadPoolExecutor):
        self._batcher = batcher
        self._executor = executor

    def predict_async(self, servable: Servable, signature_name: str | None, inputs: dict[str, np.ndarray],
                      output_keys: list[str] | None = None) -> asyncio.Future:
        """Predict for the event loop: an asyncio future of the outputs."""
        if self._can_batch(servable, signature_name, inputs):
            return self._batcher.submit_async(servable, signature_name, inputs, output_keys)
        expected = servable.expected_seconds(signature_name, inputs)
        if expected is None or expected >= INLINE_SECONDS:
            return asyncio.wrap_future(self._executor.submit(servable.run, signature_name, inputs, output_keys))
        outputs = asyncio.get_running_loop().create_future()
        try:
            outputs.set_result(servable.run(signature_name, inputs, output_keys))
        except ServingError as error:
            outputs.set_exception(error)
        return outputs

    def run_in_pool(self, function, *args):
        """Await `function(*args)` run on the worker pool (classify, regress)."""
        return asyncio.wrap_future(self._executor.submit(function, *args))

    def predict(self, servable: Servable, signature_name: str | None, inputs: dict[str, np.ndarray],
                output_keys: list[str] | None = None) -> dict[str, np.ndarray]:
        """Blocking predict for pool threads (classify, regress): runs in the calling thread unless batched."""
        if self._can_batch(servable, signature_name, inputs):
            return self._batcher.submit(servable, signature_name, inputs, output_keys).result()
        return servable.run(signature_name, inputs, output_keys)

    def _can_batch(self, servable: Servable, signature_name: str | None, inputs: dict[str, np.ndarray]) -> bool:
        if self._batcher is None:
            return False
        shapes = servable.batch_shapes(signature_name)
        if shapes is None or set(shapes) != set(inputs):
            return False
        rows = {value.shape[0] if value.ndim else None for value in inputs.values()}
        return None not in rows and len(rows) == 1 and all(
            inputs[name].ndim == len(shape) + 1 for name, shape in shapes.items())

    def classify(self, servable: Servable, signature_name: str | None, examples: list[bytes]):
        signature = _checked(servable, signature_name, CLASSIFY_METHOD, "classification")
        outputs = self.predict(servable, signature_name, {"inputs": _string_tensor(examples)},
                               [key for key in ("classes", "scores") if key in signature.outputs])
        return classification_result(outputs, len(examples))

    def regress(self, servable: Servable, signature_name: str | None, examples: list[bytes]):
        _checked(servable, signature_name, REGRESS_METHOD, "regression")
        values = self.predict(servable, signature_name, {"inputs": _string_tensor(examples)}, ["outputs"])["outputs"]
        values = np.asarray(values, dtype=np.float32)
        if values.shape not in ((len(examples),), (len(examples), 1)):
            raise ServingError("INVALID_ARGUMENT", f"Expected output Tensor shape to be [{len(examples)}] or "
                                                   f"[{len(examples)}, 1] but got {list(values.shape)}")
        result = regression_pb2.RegressionResult()
        result.regressions.extend(regression_pb2.Regression(value=float(v)) for v in values.reshape(-1))
        return result


def _checked(servable: Servable, signature_name: str | None, method: str, what: str):
    """The signature, checked as classifier.cc / regressor.cc Get...SignatureDef and PreProcess... check it."""
    key = signature_name or DEFAULT_SIGNATURE
    signature = servable.signatures.get(key)
    if signature is None:
        raise ServingError("INVALID_ARGUMENT", f"No signature was found with the name: {key}")
    if signature.method_name != method:
        raise ServingError("INVALID_ARGUMENT", f"Expected {what} signature method_name to be {method}. "
                                               f"Was: {signature.method_name}")
    if len(signature.inputs) != 1:
        raise ServingError("INVALID_ARGUMENT", "Expected one input Tensor.")
    if "inputs" not in signature.inputs:
        raise ServingError("INVALID_ARGUMENT", f"No {what} inputs found in SignatureDef: {signature}")
    return signature


def _string_tensor(values: list[bytes]) -> np.ndarray:
    tensor = np.empty(len(values), dtype=object)
    tensor[:] = values
    return tensor


def classification_result(outputs: dict[str, np.ndarray], count: int):
    classes, scores = outputs.get("classes"), outputs.get("scores")
    for name, value in (("classes", classes), ("scores", scores)):
        if value is not None and (value.ndim != 2 or value.shape[0] != count):
            raise ServingError("INVALID_ARGUMENT", f"Expected Tensor shape: [{count} N] but got {list(value.shape)}"
                                                   f" for {name}")
    result = classification_pb2.ClassificationResult()
    width = (classes if classes is not None else scores).shape[1]
    for row in range(count):
        classification = result.classifications.add()
        for column in range(width):
            label = classes[row, column] if classes is not None else b""
            classification.classes.add(label=label.decode() if isinstance(label, bytes) else str(label),
                                       score=float(scores[row, column]) if scores is not None else 0.0)
    return result


def serialized_examples(model_input) -> list[bytes]:
    """The serialized `tf.Example`s of a `tensorflow.serving.Input`, context merged into each."""
    kind = model_input.WhichOneof("kind")
    if kind == "example_list":
        return [example.SerializeToString() for example in model_input.example_list.examples]
    if kind == "example_list_with_context":
        listed = model_input.example_list_with_context
        merged = []
        for example in listed.examples:
            combined = example_pb2.Example()
            combined.CopyFrom(listed.context)
            combined.MergeFrom(example)
            merged.append(combined.SerializeToString())
        return merged
    raise ServingError("INVALID_ARGUMENT", "Input is empty")
