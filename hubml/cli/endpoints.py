"""`hubml endpoints deploy|list|describe|predict|undeploy`: models behind TF Serving endpoints."""
from __future__ import annotations

import argparse
import json
import sys

from hubml.client import Client
from hubml.exceptions import InvalidArgument
from hubml.formatting import endpoints_table, fields_text
from hubml.handles.endpoint import jsonable, split_request_body
from hubml.options import DEPLOY_OPTIONS, add_options, deploy_arguments

BACKEND_HELP = "'local' or 'kubernetes' (default: configured)"


def register(subparsers: argparse._SubParsersAction) -> None:
    endpoints = subparsers.add_parser("endpoints", help="deploy models behind TF Serving endpoints and call them")
    actions = endpoints.add_subparsers(dest="action", metavar="ACTION", required=True)

    deploy = actions.add_parser("deploy", help="serve a model (name, folder/URL or job id) and wait until it is ready")
    add_options(deploy.add_argument, DEPLOY_OPTIONS)
    deploy.set_defaults(func=deploy_model)

    listing = actions.add_parser("list", help="list endpoints")
    listing.set_defaults(func=list_endpoints)

    describe = actions.add_parser("describe", help="show one endpoint")
    describe.add_argument("endpoint")
    describe.set_defaults(func=describe_endpoint)

    predict = actions.add_parser("predict", help="call an endpoint and print the answer as JSON")
    predict.add_argument("endpoint")
    predict.add_argument("payload", metavar="JSON",
                         help="a JSON list of instances, TF Serving's {\"instances\": ...} or {\"inputs\": ...}, "
                              "@FILE to read it from a file, or - for standard input")
    predict.add_argument("--protocol", choices=["grpc", "rest"], default="grpc")
    predict.add_argument("--signature", help="signature name (default: serving_default)")
    predict.add_argument("--version", type=int, help="model version (default: the highest served)")
    predict.set_defaults(func=predict_endpoint)

    undeploy = actions.add_parser("undeploy", help="stop an endpoint")
    undeploy.add_argument("endpoint")
    undeploy.set_defaults(func=undeploy_endpoint)

    for parser in (deploy, listing, describe):
        parser.add_argument("--output", choices=["text", "json"], default="text")
    for parser in (listing, describe, predict, undeploy):
        parser.add_argument("--backend", help=BACKEND_HELP)


def deploy_model(args: argparse.Namespace) -> int:
    if not args.model:
        raise InvalidArgument("MODEL", "name a model, a model folder or URL, or a job id")
    endpoint = Client(args.backend).deploy(args.model, **deploy_arguments(args))
    print(json.dumps(endpoint.to_json(), indent=1) if args.output == "json" else repr(endpoint))
    return 0


def list_endpoints(args: argparse.Namespace) -> int:
    records = [endpoint.record for endpoint in Client(args.backend).endpoints()]
    print(json.dumps(records, indent=1) if args.output == "json" else endpoints_table(records))
    return 0


def describe_endpoint(args: argparse.Namespace) -> int:
    endpoint = Client(args.backend).endpoint(args.endpoint)
    record = endpoint.to_json()
    print(json.dumps(record, indent=1) if args.output == "json" else f"{endpoint!r}\n{fields_text(record)}")
    return 0


def predict_endpoint(args: argparse.Namespace) -> int:
    payload, signature = split_request_body(read_payload(args.payload))
    endpoint = Client(args.backend).endpoint(args.endpoint)
    result = endpoint.predict(payload, protocol=args.protocol, signature_name=args.signature or signature,
                              version=args.version)
    print(json.dumps(jsonable(result)))
    return 0


def read_payload(text: str):
    source = "the payload"
    if text == "-":
        text = sys.stdin.read()
    elif text.startswith("@"):
        source = text[1:]
        try:
            with open(source) as handle:
                text = handle.read()
        except OSError as error:
            raise InvalidArgument("JSON", f"cannot read {source}: {error.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidArgument("JSON", f"{source} is not JSON: {error.msg} at character {error.pos}") from None


def undeploy_endpoint(args: argparse.Namespace) -> int:
    Client(args.backend).undeploy(args.endpoint)
    print(f"{args.endpoint} undeployed")
    return 0
