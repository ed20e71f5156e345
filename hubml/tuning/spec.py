"""`TuneSpec`: a hyperparameter sweep, as plain, validated, serialisable data.

A sweep is a `TrainSpec` template (the code and every resource option of
`%%train`, applied to each trial), the searched parameters, the objective the
trials report, and how to search: the algorithm, the trial budget, how many
trials run at once, early stopping and how many failures end the sweep.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from hubml.exceptions import InvalidArgument
from hubml.specs import MAX_NAME_LENGTH, TrainSpec
from hubml.tuning.space import Param, grid_size, parse_space

ALGORITHMS = ("random", "grid", "tpe")
EARLY_STOPPING = ("none", "median", "hyperband")
DIRECTIONS = ("maximize", "minimize")
SWEEP_LABEL = "hubml.io/sweep"
TRIAL_LABEL = "hubml.io/trial"

# Metric names whose direction is obvious; any other objective needs --maximize or --minimize.
MINIMIZED_WORDS = ("loss", "error", "mse", "mae", "rmse", "perplexity")
MAXIMIZED_WORDS = ("acc", "auc", "precision", "recall", "f1", "r2", "iou", "reward")


@dataclass
class TuneSpec:
    """A sweep: run `template` once per trial, with each trial's sampled `params` bound as variables."""

    template: TrainSpec
    params: list[str]
    objective: str
    direction: str | None = None
    trials: int = 10
    parallel: int = 1
    algorithm: str = "tpe"
    early_stopping: str = "none"
    max_failed: int | None = None
    seed: int | None = None
    @property
    def space(self) -> list[Param]:
        """The parsed `params`; raises `InvalidArgument` naming a malformed one."""
        return parse_space(self.params)

    @property
    def name(self) -> str:
        return self.template.name

    @property
    def budget(self) -> int:
        """Trials the sweep runs at most: `trials`, capped at the grid's size for a grid search."""
        return min(self.trials, grid_size(self.space)) if self.algorithm == "grid" else self.trials

    def validate(self) -> TuneSpec:
        self.template.source_dir = os.path.abspath(self.template.source_dir)
        self.template.validate()
        self.params = [str(param) for param in self.space]  # canonical: names and values as parsed
        if not isinstance(self.objective, str) or not self.objective.strip():
            raise InvalidArgument("--objective", "name the metric the trials report, e.g. val_accuracy")
        self.direction = self.direction or infer_direction(self.objective)
        if self.direction not in DIRECTIONS:
            raise InvalidArgument("--maximize", f"direction {self.direction!r} must be maximize or minimize")
        for argument, value, allowed in (("--algorithm", self.algorithm, ALGORITHMS),
                                         ("--early-stopping", self.early_stopping, EARLY_STOPPING)):
            if value not in allowed:
                raise InvalidArgument(argument, f"{value!r} is not one of {', '.join(allowed)}")
        for argument, value in (("--trials", self.trials), ("--parallel", self.parallel),
                                ("--max-failed", 1 if self.max_failed is None else self.max_failed)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidArgument(argument, f"{value!r} must be a whole number >= 1")
        if self.seed is not None and (not isinstance(self.seed, int) or isinstance(self.seed, bool)):
            raise InvalidArgument("--seed", f"{self.seed!r} must be a whole number")
        if self.algorithm == "grid":
            grid_size(self.space)  # raises, naming the parameter, for a distribution a grid cannot enumerate
        return self

    def trial_spec(self, sweep_id: str, number: int, values: dict[str, Any]) -> TrainSpec:
        """The job of trial `number`: the template with the sampled values bound and the sweep's labels.

        A sampled value wins over a fixed `--hparam` (or a zoo recipe's default) of the same name.
        """
        name = trial_name(self.template.name, number)
        return dataclasses.replace(
            self.template, name=name, model=trial_name(self.template.model or self.template.name, number),
            hparams={**self.template.hparams, **values},
            labels={**self.template.labels, SWEEP_LABEL: sweep_id, TRIAL_LABEL: str(number)},
            files=list(self.template.files), env=dict(self.template.env))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TuneSpec:
        return cls(**{**data, "template": TrainSpec.from_dict(data["template"])})


def infer_direction(objective: str) -> str:
    """'val_loss' -> minimize, 'val_accuracy' -> maximize; anything else must be said."""
    lowered = objective.lower()
    if any(word in lowered for word in MINIMIZED_WORDS):
        return "minimize"
    if any(word in lowered for word in MAXIMIZED_WORDS):
        return "maximize"
    raise InvalidArgument("--objective", f"is {objective!r} better high or low? add --maximize or --minimize")


def trial_name(name: str, number: int) -> str:
    """`<name>-t<number>`, shortened so it stays a valid job name."""
    suffix = f"-t{number}"
    return name[: MAX_NAME_LENGTH - len(suffix)].rstrip("-") + suffix
