"""Zoo recipes as jobs and endpoints: the spec a recipe makes, and the one-line train and deploy."""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from hubml import storage
from hubml.exceptions import InvalidArgument, ModelLayoutError
from hubml.specs import TrainSpec
from hubml.zoo.catalog import Recipe, recipe

if TYPE_CHECKING:
    from hubml.client import Client
    from hubml.handles.endpoint import Endpoint
    from hubml.handles.job import Job


def recipe_spec(name: str, base: TrainSpec, named: bool = True) -> TrainSpec:
    """`base` (resources, --hparam overrides...) running recipe `name`; unless `named`, the job takes the recipe's name.

    The model is published under the recipe's name unless `base.model` says otherwise.
    """
    found = recipe(name)
    if base.code and base.code.strip():
        raise InvalidArgument("--zoo", "runs the recipe's own code: leave the cell empty (`hubml zoo describe "
                              f"{name}` shows it; copy it into a cell to change it)")
    if base.package or base.module:
        raise InvalidArgument("--zoo", "runs a recipe instead of a package: leave --package/--module out")
    check_hparams(found, base.hparams)
    return dataclasses.replace(base, name=base.name if named else found.name, model=base.model or found.name,
                               code=found.code, hparams={**found.hparams, **base.hparams})


def check_hparams(found: Recipe, hparams: dict[str, Any]) -> None:
    unknown = sorted(set(hparams) - set(found.hparams))
    if unknown:
        raise InvalidArgument("--hparam", f"{found.name} has no hyperparameter {', '.join(unknown)}: it takes "
                              f"{', '.join(found.hparams)}")


def train(client: Client, name: str, hparams: dict[str, Any] | None = None, **options: Any) -> Job:
    """Submit recipe `name` as a job (`options` as for `Client.train`: cpu, memory, gpus, retries, ...)."""
    found = recipe(name)
    check_hparams(found, hparams or {})
    options.setdefault("model", found.name)
    return client.train(found.code, name=options.pop("name", None) or found.name,
                        hparams={**found.hparams, **(hparams or {})}, **options)


def trained(client: Client, name: str) -> bool:
    """Whether storage already holds a servable version of recipe `name`'s model."""
    from hubml.backends.base import check_layout

    try:
        check_layout(storage.join(client.settings.storage, "models", recipe(name).name), None)
    except ModelLayoutError:
        return False
    return True


def deploy(client: Client, name: str, retrain: bool = False, follow: bool = False,
           hparams: dict[str, Any] | None = None, **deploy_options: Any) -> Endpoint:
    """Serve recipe `name`'s model, training it first if storage has none (or `retrain`); the endpoint is named
    after the recipe unless `deploy_options` name it. With `follow`, the training job's log is printed."""
    deploy_options.setdefault("name", recipe(name).name)
    if trained(client, name) and not retrain and not hparams:
        return client.deploy(recipe(name).name, **deploy_options)
    job = train(client, name, hparams)
    job.follow() if follow else job.wait()
    return client.deploy(job, **deploy_options)
