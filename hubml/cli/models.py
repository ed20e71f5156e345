"""`hubml models list|describe`: the model registry (the models in storage, each version's job and endpoints)."""
from __future__ import annotations

import argparse
import json

from hubml.client import Client
from hubml.formatting import table, timestamp
from hubml.progress import progress_line


def register(subparsers: argparse._SubParsersAction) -> None:
    models = subparsers.add_parser("models", help="the models in storage: versions, producing jobs, endpoints")
    actions = models.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="list the models in storage")
    listing.set_defaults(func=list_models)

    describe = actions.add_parser("describe", help="show a model's versions: producing job, final metrics, endpoints")
    describe.add_argument("model")
    describe.set_defaults(func=describe_model)

    for parser in (listing, describe):
        parser.add_argument("--output", choices=["text", "json"], default="text")
        parser.add_argument("--backend", help="'local' or 'kubernetes' (default: configured)")


def list_models(args: argparse.Namespace) -> int:
    models = Client(args.backend).models()
    if args.output == "json":
        print(json.dumps(models, indent=1))
        return 0
    rows = [(model["name"], len(model["versions"]), model["versions"][0]["version"],
             model["versions"][0]["job"] or "-", ",".join(serving_endpoints(model)) or "-", model["uri"])
            for model in models]
    print(table(["MODEL", "VERSIONS", "LATEST", "LATEST JOB", "ENDPOINTS", "URI"], rows))
    return 0


def describe_model(args: argparse.Namespace) -> int:
    model = Client(args.backend).model(args.model)
    if args.output == "json":
        print(json.dumps(model, indent=1))
        return 0
    print(f"{model['name']}  {model['uri']}")
    rows = [(version["version"], version["job"] or "-", timestamp(version["created_at"]),
             progress_line(version["metrics"]).removeprefix("[progress] ") if version["metrics"] else "-",
             ",".join(version["endpoints"]) or "-") for version in model["versions"]]
    print(table(["VERSION", "JOB", "EXPORTED", "FINAL METRICS", "ENDPOINTS"], rows))
    return 0


def serving_endpoints(model: dict) -> list[str]:
    return sorted({name for version in model["versions"] for name in version["endpoints"]})
