"""The sweep options of `%%tune` and `hubml tune submit`, declared once (beside `TRAIN_OPTIONS`).

Both front ends take `TUNE_OPTIONS + TRAIN_OPTIONS`, so every `%%train`
resource option applies to each trial, and build the spec with `tune_spec()`.
"""
from __future__ import annotations

import argparse

from hubml.options import TRAIN_OPTIONS, Option, train_spec
from hubml.tuning.spec import ALGORITHMS, EARLY_STOPPING, TuneSpec

TUNE_OPTIONS = [
    Option(("--objective",), dict(default="", help="the reported metric to optimise, e.g. val_accuracy")),
    Option(("--maximize",), dict(dest="direction", action="store_const", const="maximize",
                                 help="higher objective is better (default: guessed from the name)")),
    Option(("--minimize",), dict(dest="direction", action="store_const", const="minimize",
                                 help="lower objective is better")),
    Option(("--param",), dict(action="append", default=[], metavar="NAME=DIST(...)",
                              help="a searched parameter, bound as a variable (repeatable): loguniform(lo,hi), "
                                   "uniform(lo,hi), choice(a,b,...), int(lo,hi[,step])")),
    Option(("--trials",), dict(type=int, default=10, help="trials to run in all (default 10; a grid caps it)")),
    Option(("--parallel",), dict(type=int, default=1, help="trials running at once (default 1)")),
    Option(("--algorithm",), dict(default="tpe", help=f"search algorithm: {', '.join(ALGORITHMS)} (default tpe)")),
    Option(("--early-stopping",), dict(default="none",
                                       help=f"stop bad trials early: {', '.join(EARLY_STOPPING)} (default none)")),
    Option(("--max-failed",), dict(type=int, metavar="N", help="end the sweep once N trials failed")),
    Option(("--seed",), dict(type=int, help="seed the sampler, for a reproducible search")),
]

SWEEP_OPTIONS = TUNE_OPTIONS + TRAIN_OPTIONS


def tune_spec(args: argparse.Namespace, code: str | None, name: str, source_dir: str = ".") -> TuneSpec:
    """The sweep the parsed options describe; `validate()` is left to the client."""
    return TuneSpec(
        template=train_spec(args, code, name, source_dir=source_dir), params=list(args.param),
        objective=args.objective, direction=args.direction, trials=args.trials, parallel=args.parallel,
        algorithm=args.algorithm, early_stopping=args.early_stopping, max_failed=args.max_failed, seed=args.seed,
    )
