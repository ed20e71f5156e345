"""`%deploy` / `%%deploy`, `%predict`, `%undeploy` and `%endpoints`.

    endpoint = %deploy job --name mnist          # a Job variable, a job id, a model name or a folder
    %%deploy
    model: mnist
    version: 2
    batching: true

Both forms wait until the endpoint serves and return its `Endpoint` (bound to
`_`); a failure raises, so a papermill run stops there.
"""
from __future__ import annotations

import json
import shlex
from typing import Any

import yaml
from IPython.core import magic_arguments
from IPython.core.magic import line_cell_magic, line_magic, magics_class

from hubml.exceptions import InvalidArgument
from hubml.formatting import endpoints_table
from hubml.handles.endpoint import Endpoint, jsonable, split_request_body
from hubml.handles.job import Job
from hubml.magics.base import HubMLMagics, parse_arguments, with_options
from hubml.options import DEPLOY_OPTIONS, deploy_arguments

PREDICT_OPTIONS = {"--protocol": str, "--signature": str, "--version": int}


@magics_class
class DeployMagics(HubMLMagics):
    @with_options(DEPLOY_OPTIONS)
    @line_cell_magic
    def deploy(self, line: str, cell: str | None = None) -> Endpoint:
        """Serve a model behind a TF Serving endpoint and return its `Endpoint` once it is ready.

        MODEL may also name a notebook variable that holds a `Job`. As a cell
        magic, the cell holds the same options as YAML (`model: mnist`,
        `version: 2`, `batching: true`).
        """
        if cell is not None and cell.strip():
            line = " ".join(filter(None, [line, yaml_as_arguments(cell)]))
        args = parse_arguments(self.deploy, line)
        if not args.model:
            raise InvalidArgument("MODEL", "name a model, a model folder, a job id or a variable holding a Job")
        model = self.shell.user_ns.get(args.model) if args.model.isidentifier() else None
        client = self.client(args.backend)
        options = {**deploy_arguments(args), "wait": False}
        endpoint = client.deploy(model if isinstance(model, Job) else args.model, **options)
        record = endpoint.record
        pinned = f" version {record['version']}" if record["version"] is not None else ""
        print(f"Deploying {record['model_uri']}{pinned} as endpoint {endpoint.name} on {client.settings.backend}"
              + ("" if args.detach else "; waiting until it serves"), flush=True)
        return endpoint if args.detach else endpoint.wait_ready(args.timeout, remove_if_failed=True)

    @line_magic
    def predict(self, line: str) -> None:
        """`%predict ENDPOINT [--protocol rest] [--signature NAME] [--version N] JSON_OR_VARIABLE`: print the answer.

        The payload is a JSON list of instances (or TF Serving's
        `{"instances": ...}` / `{"inputs": ...}`), or a notebook variable
        holding an array, a list or a dict of named inputs.
        """
        target, options, payload = split_predict_line(line)
        endpoint = self._endpoint(target)
        instances, signature = split_request_body(self._payload(payload))
        result = endpoint.predict(instances, protocol=options.get("--protocol", "grpc"),
                                  signature_name=options.get("--signature", signature),
                                  version=options.get("--version"))
        print(json.dumps(jsonable(result)))

    @magic_arguments.magic_arguments()
    @magic_arguments.argument("endpoint", help="endpoint name")
    @line_magic
    def undeploy(self, line: str) -> None:
        """Stop an endpoint and forget it."""
        args = parse_arguments(self.undeploy, line)
        self.client().undeploy(args.endpoint)
        print(f"{args.endpoint} undeployed")

    @line_magic
    def endpoints(self, line: str = "") -> None:
        """Show a table of endpoints."""
        print(endpoints_table([endpoint.record for endpoint in self.client().endpoints()]))

    def _endpoint(self, target: str) -> Endpoint:
        held = self.shell.user_ns.get(target) if target.isidentifier() else None
        return held if isinstance(held, Endpoint) else self.client().endpoint(target)

    def _payload(self, text: str) -> Any:
        if text.isidentifier() and text in self.shell.user_ns:
            return self.shell.user_ns[text]
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise InvalidArgument("JSON_OR_VARIABLE", f"{text[:60]!r} is neither a notebook variable nor JSON "
                                  f"({error.msg} at character {error.pos})") from None


def yaml_as_arguments(cell: str) -> str:
    """The `%%deploy` cell's YAML mapping as the line magic's arguments, so one parser checks both."""
    try:
        document = yaml.safe_load(cell)
    except yaml.YAMLError as error:
        raise InvalidArgument("%%deploy", f"the cell is not YAML: {error}") from None
    if not isinstance(document, dict):
        raise InvalidArgument("%%deploy", "the cell must be a YAML mapping such as 'model: mnist'")
    known = {option.flags[0].lstrip("-") for option in DEPLOY_OPTIONS}
    words = []
    for key, value in document.items():
        if key not in known:
            raise InvalidArgument(str(key), f"is not a %%deploy option; use {', '.join(sorted(known))}")
        if key == "model":
            words.append(shlex.quote(str(value)))
        elif isinstance(value, bool):
            words += [f"--{key}"] if value else []
        elif value is not None:
            words += [f"--{key}", shlex.quote(str(value))]
    return " ".join(words)


def split_predict_line(line: str) -> tuple[str, dict[str, Any], str]:
    """ENDPOINT, its options, and the payload kept verbatim (JSON is not shell-quoted)."""
    parts = line.strip().split(None, 1)
    if len(parts) < 2:
        raise InvalidArgument("%predict", "usage: %predict ENDPOINT [--protocol grpc|rest] [--signature NAME] "
                              "[--version N] JSON_OR_VARIABLE")
    target, rest = parts
    options: dict[str, Any] = {}
    while rest.startswith("--"):
        words = rest.split(None, 2)
        flag = words[0]
        if flag not in PREDICT_OPTIONS:
            raise InvalidArgument(flag, f"is not a %predict option; use {', '.join(PREDICT_OPTIONS)}")
        if len(words) < 3:
            raise InvalidArgument(flag, "needs a value, followed by the payload")
        try:
            options[flag] = PREDICT_OPTIONS[flag](words[1])
        except ValueError:
            raise InvalidArgument(flag, f"{words[1]!r} is not a {PREDICT_OPTIONS[flag].__name__}") from None
        rest = words[2]
    return target, options, rest.strip()

