"""The zoo's data: generated with numpy from a seed, so nothing is downloaded and every run sees the same data.

Each function returns `(x_train, y_train), (x_validation, y_validation)` and
the class names, in the order of the integer labels.
"""
from __future__ import annotations

import numpy as np

BLOB_CLASSES = ["red", "green", "blue"]
BLOB_CENTERS = np.array([[0.0, 0.0, 2.0, 2.0], [2.0, 2.0, 0.0, 0.0], [2.0, 0.0, 2.0, 0.0]])
SHAPE_CLASSES = ["horizontal", "vertical", "diagonal"]
IMAGE_SIZE = 12
SENTIMENT_CLASSES = ["negative", "positive"]
POSITIVE_WORDS = ["great", "wonderful", "fun", "loved", "excellent", "brilliant", "enjoyable", "superb"]
NEGATIVE_WORDS = ["awful", "boring", "terrible", "hated", "dull", "poor", "tedious", "bad"]
FILLER_WORDS = ["the", "movie", "film", "was", "really", "plot", "acting", "and", "a", "story", "quite", "very"]

Split = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _split(x: np.ndarray, y: np.ndarray, validation: float = 0.2) -> Split:
    cut = int(len(x) * (1 - validation))
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def blobs(samples: int = 600, seed: int = 0) -> tuple[Split, list[str]]:
    """Four features drawn around one of three centres: a tabular three-class problem."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(BLOB_CLASSES), samples)
    x = (BLOB_CENTERS[y] + rng.normal(0.0, 0.6, (samples, BLOB_CENTERS.shape[1]))).astype("float32")
    return _split(x, y), BLOB_CLASSES


def shape_image(kind: int, position: int, size: int = IMAGE_SIZE) -> np.ndarray:
    """A blank `size`×`size` image with one line: horizontal (row), vertical (column) or diagonal (offset)."""
    image = np.zeros((size, size), dtype="float32")
    if kind == 0:
        image[position, :] = 1.0
    elif kind == 1:
        image[:, position] = 1.0
    else:
        rows = np.arange(size)
        image[rows, (rows + position) % size] = 1.0
    return image


def shapes(samples: int = 600, seed: int = 0) -> tuple[Split, list[str]]:
    """12×12 grey images of one line among noise: which way does it run?"""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(SHAPE_CLASSES), samples)
    images = np.stack([shape_image(kind, rng.integers(0, IMAGE_SIZE)) for kind in y])
    x = np.clip(images + rng.normal(0.0, 0.15, images.shape), 0.0, 1.0).astype("float32")
    return _split(x, y), SHAPE_CLASSES


def sentences(samples: int = 600, seed: int = 0) -> tuple[Split, list[str]]:
    """Short movie reviews from a fixed vocabulary; the opinion words decide the sentiment."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(SENTIMENT_CLASSES), samples)
    texts = []
    for label in y:
        opinions = rng.choice(POSITIVE_WORDS if label else NEGATIVE_WORDS, size=rng.integers(1, 3))
        words = list(rng.choice(FILLER_WORDS, size=rng.integers(3, 7))) + list(opinions)
        rng.shuffle(words)
        texts.append(" ".join(words))
    return _split(np.array(texts), y), SENTIMENT_CLASSES
