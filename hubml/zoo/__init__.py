"""The model zoo: ready recipes, trainable and deployable in one line, on data that ships with hubml.

    hubml zoo list                                 # the catalog
    hubml zoo describe text-classifier             # data, hyperparameters, signature, example request
    hubml zoo train small-cnn --hparam epochs=5    # a job, as %%train --zoo small-cnn
    hubml zoo deploy dense-classifier              # train if no model yet, then serve it

    job = hubml.zoo.train(client, "dense-classifier", hparams={"epochs": 1})
    endpoint = hubml.zoo.deploy(client, "dense-classifier")
    endpoint.predict(hubml.zoo.recipe("dense-classifier").example["instances"])

A recipe's job is an ordinary cell job: its code is the recipe's script
(`hubml/zoo/recipes/`), its hyperparameters the recipe's defaults overridden
by `--hparam`, and it exports a SavedModel named after the recipe, so
`models/<recipe>` in storage holds its versions. Nothing is downloaded: the
data is generated from a seed (`hubml/zoo/data.py`).
"""
from __future__ import annotations

from hubml.zoo.catalog import RECIPES, Recipe, recipe
from hubml.zoo.jobs import deploy, recipe_spec, train

__all__ = ["RECIPES", "Recipe", "deploy", "recipe", "recipe_spec", "train"]
