"""`hubml zoo list|describe|train|deploy`: the model zoo's ready recipes."""
from __future__ import annotations

import argparse
import json

from hubml.options import DEPLOY_OPTIONS, TRAIN_OPTIONS, add_options, deploy_arguments, train_spec

# A recipe brings its own code and name; these options choose something else to run.
NOT_FOR_RECIPES = {"--package", "--module", "--zoo"}
DEPLOY_FOR_RECIPES = [option for option in DEPLOY_OPTIONS if option.flags[0] != "model"]


def register(subparsers: argparse._SubParsersAction) -> None:
    zoo = subparsers.add_parser("zoo", help="ready model recipes: list, describe, train, deploy")
    actions = zoo.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="list the recipes")
    listing.add_argument("--output", choices=["table", "json"], default="table")
    listing.set_defaults(func=list_recipes)

    describe = actions.add_parser("describe", help="a recipe's data, hyperparameters, signature and example request")
    describe.add_argument("recipe", metavar="RECIPE")
    describe.add_argument("--code", action="store_true", help="print the training script instead")
    describe.set_defaults(func=describe_recipe)

    train = actions.add_parser("train", help="train a recipe as a job (as %%%%train --zoo RECIPE)")
    train.add_argument("recipe", metavar="RECIPE")
    add_options(train.add_argument, [option for option in TRAIN_OPTIONS if option.flags[0] not in NOT_FOR_RECIPES])
    train.set_defaults(func=train_recipe, package=None, module=None)

    deploy = actions.add_parser("deploy", help="serve a recipe's model, training it first if there is none")
    deploy.add_argument("recipe", metavar="RECIPE")
    deploy.add_argument("--retrain", action="store_true", help="train a new version even if one exists")
    deploy.add_argument("--hparam", action="append", default=[], metavar="KEY=VALUE",
                        help="hyperparameters for the training (implies a new version)")
    add_options(deploy.add_argument, DEPLOY_FOR_RECIPES)
    deploy.set_defaults(func=deploy_recipe)


def list_recipes(args: argparse.Namespace) -> int:
    from hubml.zoo import RECIPES

    if args.output == "json":
        print(json.dumps([recipe.to_json() for recipe in RECIPES.values()], indent=1))
        return 0
    width = max(len(name) for name in RECIPES)
    for recipe in RECIPES.values():
        print(f"{recipe.name:<{width}}  {recipe.title}")
    return 0


def describe_recipe(args: argparse.Namespace) -> int:
    from hubml.zoo import recipe

    found = recipe(args.recipe)
    print(found.code if args.code else found.describe())
    return 0


def train_recipe(args: argparse.Namespace) -> int:
    from hubml.client import Client

    args.zoo = args.recipe
    job = Client(args.backend).submit(train_spec(args, None, args.recipe))
    print(f"Submitted {job.id} (recipe {args.recipe}, model {job.spec.model})", flush=True)
    return 0 if args.detach or job.follow_or_cancel() else 130


def deploy_recipe(args: argparse.Namespace) -> int:
    from hubml.client import Client
    from hubml.specs import parse_hparam
    from hubml.zoo import deploy, recipe

    hparams = dict(parse_hparam(text) for text in args.hparam)
    endpoint = deploy(Client(args.backend), args.recipe, retrain=args.retrain, follow=True, hparams=hparams,
                      **{key: value for key, value in deploy_arguments(args).items() if value is not None})
    print(repr(endpoint))
    print(f"Try it: curl -d '{json.dumps(recipe(args.recipe).example)}' {endpoint.predict_url}")
    return 0
