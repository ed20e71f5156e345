"""The zoo's catalog: each recipe's script, defaults, serving signature and an example request."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from hubml.exceptions import InvalidArgument
from hubml.zoo.data import shape_image

RECIPES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "recipes")


@dataclass(frozen=True)
class Recipe:
    """A ready model: train it with `hubml zoo train NAME`, serve it with `hubml zoo deploy NAME`."""

    name: str
    title: str
    data: str
    script: str
    hparams: dict[str, Any]
    signature: dict[str, str]
    example: dict[str, Any]
    tags: list[str] = field(default_factory=list)

    @property
    def code(self) -> str:
        """The training script, shipped as the job's code (inspect it, or copy it into a %%train cell)."""
        with open(os.path.join(RECIPES_DIR, self.script)) as handle:
            return handle.read()

    def describe(self) -> str:
        lines = [f"{self.name}: {self.title}", f"  data: {self.data}",
                 "  hyperparameters (--hparam KEY=VALUE): "
                 + ", ".join(f"{key}={value!r}" for key, value in self.hparams.items()),
                 "  serving signature (serving_default):"]
        lines += [f"    {name}: {text}" for name, text in self.signature.items()]
        lines += ["  example request (POST /v1/models/<model>:predict):", f"    {json.dumps(self.example)}"]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "data": self.data, "hparams": self.hparams,
                "signature": self.signature, "example": self.example}


CLASSIFIER_OUTPUTS = {
    "probabilities": "float32 [batch, classes], one probability per class",
    "class_ids": "int64 [batch], the most likely class's index",
    "classes": "string [batch], the most likely class's name",
}

RECIPES = {recipe.name: recipe for recipe in [
    Recipe(
        name="dense-classifier", title="a dense (multilayer perceptron) classifier for tabular features",
        data="600 synthetic rows of 4 float features around 3 centres, labelled red, green, blue "
             "(hubml.zoo.data.blobs)",
        script="dense_classifier.py",
        hparams={"epochs": 2, "units": 32, "learning_rate": 0.01, "samples": 600, "seed": 0},
        signature={"features (input)": "float32 [batch, 4]", **CLASSIFIER_OUTPUTS},
        example={"instances": [[0.1, -0.2, 2.1, 1.9], [2.0, 0.1, 1.8, 0.2]]},
        tags=["tabular"]),
    Recipe(
        name="small-cnn", title="a small convolutional network for 12x12 grey images",
        data="600 synthetic 12x12 images of one line (horizontal, vertical or diagonal) in noise "
             "(hubml.zoo.data.shapes)",
        script="small_cnn.py",
        hparams={"epochs": 2, "filters": 16, "learning_rate": 0.005, "samples": 600, "seed": 0},
        signature={"image (input)": "float32 [batch, 12, 12], pixel values in [0, 1]", **CLASSIFIER_OUTPUTS},
        example={"instances": [shape_image(0, 3).tolist()]},
        tags=["vision"]),
    Recipe(
        name="text-classifier", title="a text classifier taking raw strings (the vocabulary is in the model)",
        data="600 synthetic short movie reviews labelled negative or positive (hubml.zoo.data.sentences)",
        script="text_classifier.py",
        hparams={"epochs": 2, "embedding": 16, "max_tokens": 200, "sequence_length": 12, "learning_rate": 0.01,
                 "samples": 600, "seed": 0},
        signature={"text (input)": "string [batch], one review each", **CLASSIFIER_OUTPUTS},
        example={"instances": ["the movie was wonderful and fun", "a dull and tedious plot"]},
        tags=["text"]),
]}


def recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise InvalidArgument("--zoo", f"no recipe named {name!r} in the zoo: choose one of {', '.join(RECIPES)}")
    return RECIPES[name]
