"""Where the suite's test data lives: TensorFlow Serving's own test models, kept in the repository.

`tests/fixtures/tf_serving_testdata/` is a copy of models from TensorFlow Serving's
`tensorflow_serving/servables/tensorflow/testdata` (Apache-2.0, its LICENSE beside them),
so the suite runs from a fresh clone with nothing outside it.
"""
from pathlib import Path

TF_SERVING_TESTDATA = Path(__file__).resolve().parent / "fixtures" / "tf_serving_testdata"
HALF_PLUS_TWO = TF_SERVING_TESTDATA / "saved_model_half_plus_two_cpu"
