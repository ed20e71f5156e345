"""Search spaces and `TuneSpec`: parsing, validation, serialisation, trial specs (no jobs run)."""
import json

import optuna
import pytest
from IPython.core.error import UsageError

from hubml.specs import TrainSpec
from hubml.tuning.algorithms import create_study
from hubml.tuning.space import parse_param, parse_space
from hubml.tuning.spec import SWEEP_LABEL, TRIAL_LABEL, TuneSpec, trial_name


@pytest.mark.parametrize("text, distribution, grid", [
    ("lr=loguniform(1e-4,1e-1)", optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True), None),
    ("dropout=uniform(0, 0.5)", optuna.distributions.FloatDistribution(0.0, 0.5), None),
    ("units=choice(32, 64, 128)", optuna.distributions.CategoricalDistribution((32, 64, 128)), [32, 64, 128]),
    ("act=choice('relu', 'tanh')", optuna.distributions.CategoricalDistribution(("relu", "tanh")), ["relu", "tanh"]),
    ("layers=int(1, 3)", optuna.distributions.IntDistribution(1, 3), [1, 2, 3]),
    ("batch=intuniform(16, 64, 16)", optuna.distributions.IntDistribution(16, 64, step=16), [16, 32, 48, 64]),
])
def test_distributions(text, distribution, grid):
    param = parse_param(text)
    assert param.distribution() == distribution
    assert parse_param(str(param)) == param  # the canonical text parses back to the same parameter
    if grid is None:
        with pytest.raises(UsageError, match=f"{param.name}: grid search needs choice"):
            param.grid()
    else:
        assert param.grid() == grid


@pytest.mark.parametrize("text, message", [
    ("lr=loguniform(0,1)", "lr: loguniform(low, high) needs 0 < low < high"),
    ("lr=loguniform(1e-1, 1e-4)", "lr: loguniform(low, high) needs 0 < low < high"),
    ("rate=gaussian(0, 1)", "rate: unknown distribution 'gaussian'"),
    ("units=choice()", "units: choice() is empty"),
    ("units=choice(32, 32)", "units: choice(32, 32) lists a value twice"),
    ("dropout=uniform(0.5, 0.5)", "dropout: uniform(low, high) needs low < high"),
    ("dropout=uniform(0, 'a')", "dropout: uniform(low, high) needs two numbers"),
    ("layers=int(1.5, 3)", "layers: int(low, high[, step]) needs whole numbers"),
    ("layers=int(4, 1)", "layers: int(low, high, step) needs low <= high"),
    ("layers=int(1, 4, 2)", "layers: int(1, 4, 2): high - low must be a multiple of step"),
    ("lr=loguniform(1e-4, x)", "lr: the values of loguniform(...) must be literals"),
    ("lr=__import__('os')", "lr: unknown distribution '__import__'"),
    ("lr", "'lr' is not NAME=DISTRIBUTION(...)"),
    ("2lr=uniform(0, 1)", "'2lr': not a Python identifier"),
    ("lr=0.1", "lr: '0.1' is not DISTRIBUTION(...)"),
])
def test_bad_search_spaces_are_usage_errors_naming_the_parameter(text, message):
    with pytest.raises(UsageError) as error:
        parse_param(text)
    assert str(error.value).startswith("--param: ") and message in str(error.value)


def test_quotes_kept_by_ipython_argument_splitting_are_dropped():
    assert parse_param('"lr=loguniform(1e-4, 1e-1)"') == parse_param("lr=loguniform(1e-4, 1e-1)")
    assert parse_param("'act=choice(\"a\", \"b\")'").args == ("a", "b")


def test_a_parameter_given_twice_or_none_at_all():
    with pytest.raises(UsageError, match="lr: given more than once"):
        parse_space(["lr=uniform(0, 1)", "lr=loguniform(1e-3, 1)"])
    with pytest.raises(UsageError, match="give at least one parameter"):
        parse_space([])


def spec(**changes) -> TuneSpec:
    fields = dict(template=TrainSpec(name="mnist", code="print(lr)"), params=["lr=loguniform(1e-4, 1e-1)"],
                  objective="val_accuracy")
    return TuneSpec(**{**fields, **changes})


@pytest.mark.parametrize("changes, message", [
    (dict(objective=""), "--objective: name the metric"),
    (dict(objective="throughput"), "--objective: is 'throughput' better high or low"),
    (dict(trials=0), "--trials: 0 must be a whole number >= 1"),
    (dict(parallel=0), "--parallel: 0 must be a whole number >= 1"),
    (dict(max_failed=0), "--max-failed: 0 must be a whole number >= 1"),
    (dict(algorithm="bayes"), "--algorithm: 'bayes' is not one of random, grid, tpe"),
    (dict(early_stopping="asha"), "--early-stopping: 'asha' is not one of none, median, hyperband"),
    (dict(algorithm="grid"), "lr: grid search needs choice(...) or int(...)"),
    (dict(template=TrainSpec(name="mnist", code="print(")), "code: syntax error"),
    (dict(template=TrainSpec(name="Bad Name", code="print(lr)")), "--name"),
])
def test_invalid_sweeps_are_refused(changes, message):
    with pytest.raises(UsageError) as error:
        spec(**changes).validate()
    assert message in str(error.value)


def test_direction_from_the_objective_unless_given():
    assert spec(objective="val_accuracy").validate().direction == "maximize"
    assert spec(objective="val_loss").validate().direction == "minimize"
    assert spec(objective="throughput", direction="maximize").validate().direction == "maximize"


def test_grid_budget_is_capped_by_the_grid():
    grid = spec(params=["units=choice(32, 64)", "layers=int(1, 3)"], algorithm="grid", trials=100).validate()
    assert grid.budget == 6
    assert spec(trials=7).validate().budget == 7


def test_spec_round_trips_through_json_and_builds_labelled_trial_jobs():
    original = spec(params=["lr=loguniform(1e-4, 1e-1)", "units=choice(32, 64)"], trials=4, parallel=2,
                    early_stopping="median", max_failed=2, seed=3).validate()
    copy = TuneSpec.from_dict(json.loads(json.dumps(original.to_dict())))
    assert copy == original and copy.params == ["lr=loguniform(0.0001, 0.1)", "units=choice(32, 64)"]
    trial = copy.trial_spec("mnist-abc123", 3, {"lr": 0.01, "units": 64})
    assert trial.validate() is trial
    assert (trial.name, trial.model, trial.hparams) == ("mnist-t3", "mnist-t3", {"lr": 0.01, "units": 64})
    assert trial.labels == {SWEEP_LABEL: "mnist-abc123", TRIAL_LABEL: "3"}
    assert copy.template.hparams == {} and copy.template.labels == {}  # the template itself is untouched


def test_sampled_values_win_over_fixed_hyperparameters_of_the_same_name():
    fixed = spec(template=TrainSpec(name="zoo", code="print(lr)", hparams={"lr": 0.1, "epochs": 3})).validate()
    assert fixed.trial_spec("zoo-abc123", 0, {"lr": 0.01}).hparams == {"lr": 0.01, "epochs": 3}


def test_trial_names_stay_valid_job_names():
    name = trial_name("a" * 40, 123)
    assert len(name) <= 40 and name.endswith("-t123")


@pytest.mark.parametrize("algorithm, early_stopping, sampler, pruner", [
    ("random", "none", optuna.samplers.RandomSampler, optuna.pruners.NopPruner),
    ("grid", "median", optuna.samplers.GridSampler, optuna.pruners.MedianPruner),
    ("tpe", "hyperband", optuna.samplers.TPESampler, optuna.pruners.HyperbandPruner),
])
def test_each_algorithm_and_early_stopping_gets_its_optuna_parts(tmp_path, algorithm, early_stopping, sampler,
                                                                 pruner):
    tune = spec(params=["units=choice(32, 64)"], algorithm=algorithm, early_stopping=early_stopping).validate()
    study = create_study(tune, "s", f"sqlite:///{tmp_path / 'optuna.db'}")
    assert isinstance(study.sampler, sampler) and isinstance(study.pruner, pruner)
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE


def test_grid_search_under_ask_and_tell_visits_each_point_once(tmp_path):
    tune = spec(params=["units=choice(32, 64)", "layers=int(1, 2)"], algorithm="grid", seed=0).validate()
    study = create_study(tune, "s", f"sqlite:///{tmp_path / 'optuna.db'}")
    distributions = {param.name: param.distribution() for param in tune.space}
    seen = []
    for _ in range(tune.budget):
        trial = study.ask(distributions)
        seen.append((trial.params["units"], trial.params["layers"]))
        study.tell(trial, 1.0)  # Optuna's own GridSampler would raise here once the grid is done
    assert sorted(seen) == [(32, 1), (32, 2), (64, 1), (64, 2)]
