"""The Optuna sampler behind each `--algorithm` and the pruner behind each `--early-stopping`."""
from __future__ import annotations

from typing import Any, Callable

import optuna

from hubml.tuning.spec import TuneSpec

# Median stopping compares a trial with the trials that finished, at the same epoch:
# it waits for this many to finish, and never judges a trial on its first epoch alone.
MEDIAN_STARTUP_TRIALS = 2
MEDIAN_WARMUP_STEPS = 2
HYPERBAND_REDUCTION_FACTOR = 3
TPE_MAX_STARTUP_TRIALS = 10


class AskTellGridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler, minus its `study.stop()` once the grid is done.

    `study.stop()` only works inside `study.optimize`; under ask-and-tell it
    raises. The driver already caps the trials at the grid's size.
    """

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        return None


def _random(spec: TuneSpec) -> optuna.samplers.BaseSampler:
    return optuna.samplers.RandomSampler(seed=spec.seed)


def _grid(spec: TuneSpec) -> optuna.samplers.BaseSampler:
    return AskTellGridSampler({param.name: param.grid() for param in spec.space}, seed=spec.seed)


def _tpe(spec: TuneSpec) -> optuna.samplers.BaseSampler:
    # A third of the budget (at least one trial per slot) samples at random before TPE models the results;
    # with several trials in flight, the constant liar keeps TPE from proposing the same point twice.
    startup = max(spec.parallel, min(TPE_MAX_STARTUP_TRIALS, spec.budget // 3))
    return optuna.samplers.TPESampler(seed=spec.seed, n_startup_trials=startup, constant_liar=spec.parallel > 1)


SAMPLERS: dict[str, Callable[[TuneSpec], optuna.samplers.BaseSampler]] = {
    "random": _random, "grid": _grid, "tpe": _tpe}

PRUNERS: dict[str, Callable[[], optuna.pruners.BasePruner]] = {
    "none": optuna.pruners.NopPruner,
    "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=MEDIAN_STARTUP_TRIALS,
                                                  n_warmup_steps=MEDIAN_WARMUP_STEPS),
    "hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=1,
                                                        reduction_factor=HYPERBAND_REDUCTION_FACTOR),
}


def create_study(spec: TuneSpec, study_name: str, storage: str) -> optuna.Study:
    """The sweep's study in its own storage, with the sampler and pruner the spec names."""
    return optuna.create_study(study_name=study_name, storage=storage, direction=spec.direction,
                               sampler=SAMPLERS[spec.algorithm](spec), pruner=PRUNERS[spec.early_stopping](),
                               load_if_exists=True)
