"""The job options, declared once for every front end.

`%%train`, `%%tune`, `hubml jobs submit` and `hubml run` take the same flags;
each front end applies `TRAIN_OPTIONS` to its own parser (IPython's
`magic_arguments` or argparse) and turns the parsed result into a `TrainSpec`
with `train_spec()`, so a flag is spelled, documented and validated in one place.
"""
from __future__ import annotations

import argparse
import difflib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from hubml.specs import Resources, TrainSpec, parse_hparam


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


TRAIN_OPTIONS = [
    Option(("--name",), dict(help="job name (default: derived from the notebook or script and a counter)")),
    Option(("--model",), dict(help="name the exported SavedModel is published under (default: the job name)")),
    Option(("--workers",), dict(type=int, default=1, help="worker replicas (default 1)")),
    Option(("--ps",), dict(type=int, default=0, help="parameter-server replicas (default 0)")),
    Option(("--chief",), dict(action="store_true", help="add a chief replica, which decides the job's end")),
    Option(("--cpu",), dict(type=float, help="CPU cores each replica requests")),
    Option(("--memory",), dict(help="memory each replica requests, e.g. 4Gi")),
    Option(("--gpus",), dict(type=int, default=0, help="GPUs each replica requests")),
    Option(("--image",), dict(help="container image for the replicas (Kubernetes; recorded on the local backend)")),
    Option(("--requirements",), dict(metavar="FILE", help="requirements.txt installed into the job's own environment")),
    Option(("--files",), dict(nargs="+", default=[], metavar="PATH", help="files or folders shipped beside the code")),
    Option(("--package",), dict(metavar="DIR", help="run this Python package (setup.py/pyproject.toml) instead of the code")),
    Option(("--module",), dict(metavar="MODULE", help="with --package: the module to run, e.g. trainer.task")),
    Option(("--hparam",), dict(action="append", default=[], metavar="KEY=VALUE",
                               help="a hyperparameter bound as a Python variable (repeatable; values are literals)")),
    Option(("--retries",), dict(type=int, default=0, help="times to retry a failed job (default 0)")),
    Option(("--timeout",), dict(type=float, metavar="SECONDS", help="fail the job after this long")),
    Option(("--no-legacy-keras",), dict(action="store_true",
                                        help="multi-replica jobs: do not set TF_USE_LEGACY_KERAS=1 (tf-keras)")),
    Option(("--backend",), dict(help="'local' or 'kubernetes' (default: configured)")),
    Option(("--detach",), dict(action="store_true", help="return at once instead of waiting for the job")),
    Option(("--zoo",), dict(metavar="RECIPE", help="train a model-zoo recipe instead of the code (hubml zoo list)")),
]


UNRECOGNIZED = "unrecognized arguments: "


def with_suggestion(message: str, known: Iterable[str]) -> str:
    """argparse's error message, with "did you mean `--workers`?" after an unrecognized option close to a known one."""
    if not message.startswith(UNRECOGNIZED):
        return message
    options = sorted(set(known))
    hints = []
    for token in message[len(UNRECOGNIZED):].split():
        flag = token.split("=", 1)[0]
        close = difflib.get_close_matches(flag, options, n=1, cutoff=0.6) if flag.startswith("-") else []
        if close:
            hints.append(f"{flag}: did you mean `{close[0]}`?")
    return "; ".join([message, *hints])


def option_strings(parser: argparse.ArgumentParser) -> list[str]:
    """Every option a parser and its subcommands' parsers know."""
    found = []
    for action in parser._actions:
        found += action.option_strings
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                found += option_strings(subparser)
    return found


class SuggestingParser(argparse.ArgumentParser):
    """An ArgumentParser whose unknown-option error names the closest known option (exit code 2, as argparse's)."""

    def error(self, message: str):
        super().error(with_suggestion(message, option_strings(self)))


def add_options(add_argument: Callable[..., Any], options: list[Option] = TRAIN_OPTIONS) -> None:
    for option in options:
        add_argument(*option.flags, **option.kwargs)


def train_spec(args: argparse.Namespace, code: str | None, name: str, source_dir: str = ".") -> TrainSpec:
    """The spec the parsed options describe; `validate()` is left to the client."""
    hparams = dict(parse_hparam(text) for text in args.hparam)
    spec = TrainSpec(
        name=args.name or name, code=code, package=args.package, module=args.module, model=args.model,
        workers=args.workers, ps=args.ps, chief=args.chief,
        resources=Resources(cpu=args.cpu, memory=args.memory, gpus=args.gpus),
        image=args.image, requirements=args.requirements, files=list(args.files), hparams=hparams,
        retries=args.retries, timeout=args.timeout, legacy_keras=False if args.no_legacy_keras else None,
        source_dir=source_dir,
    )
    if getattr(args, "zoo", None):
        from hubml.zoo import recipe_spec

        return recipe_spec(args.zoo, spec, named=bool(args.name))
    return spec


# --- endpoints: `%deploy`, `%%deploy` (as YAML keys) and `hubml endpoints deploy` -------------

DEPLOY_OPTIONS = [
    Option(("model",), dict(nargs="?", metavar="MODEL",
                            help="a model name in storage, a model folder or URL (<base>/<version>/saved_model.pb), "
                                 "or a job id (its exported model)")),
    Option(("--name",), dict(help="endpoint name (default: the model's, folder's or job's name)")),
    Option(("--version",), dict(type=int, help="serve only this version (default: the highest, and newer ones as "
                                               "they appear; for a job, the version it exported)")),
    Option(("--replicas",), dict(type=int, default=1, help="serving replicas (default 1)")),
    Option(("--batching",), dict(action="store_true", help="merge concurrent requests into batched model calls")),
    Option(("--timeout",), dict(type=float, default=300.0, metavar="SECONDS",
                                help="how long to wait for the endpoint to be ready (default 300)")),
    Option(("--detach",), dict(action="store_true", help="return at once instead of waiting until it is ready")),
    Option(("--backend",), dict(help="'local' or 'kubernetes' (default: configured)")),
]


def deploy_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """`Client.deploy` keywords from parsed `DEPLOY_OPTIONS` (the model itself left to the caller)."""
    return dict(name=args.name, version=args.version, replicas=args.replicas, batching=args.batching,
                wait=not args.detach, timeout=args.timeout)
