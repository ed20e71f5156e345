"""Spec validation: every bad input is an InvalidArgument naming the option, before anything runs."""
import pytest

from hubml.exceptions import InvalidArgument
from hubml.specs import DeploySpec, Resources, TrainSpec, parse_hparam, parse_memory, slugify


def spec(**fields) -> TrainSpec:
    return TrainSpec(**{"name": "job", "code": "print(1)", **fields})


@pytest.mark.parametrize("fields, argument", [
    ({"workers": -1}, "--workers"),
    ({"ps": -2}, "--ps"),
    ({"workers": 0}, "--workers"),
    ({"retries": -1}, "--retries"),
    ({"timeout": 0}, "--timeout"),
    ({"name": "Bad_Name"}, "--name"),
    ({"name": "x" * 41}, "--name"),
    ({"model": "../escape"}, "--model"),
    ({"code": "   \n"}, "code"),
    ({"code": "def broken(:\n"}, "code"),
    ({"files": ["does-not-exist.csv"]}, "--files"),
    ({"requirements": "missing-requirements.txt"}, "--requirements"),
    ({"code": None, "package": "."}, "--package"),
    ({"code": None, "module": "pkg.task"}, "--module"),
    ({"code": None, "package": "no-such-dir", "module": "pkg.task"}, "--package"),
    ({"code": None, "package": ".", "module": "not a module"}, "--module"),
    ({"resources": Resources(cpu=-1)}, "--cpu"),
    ({"resources": Resources(memory="lots")}, "--memory"),
    ({"resources": Resources(gpus=-1)}, "--gpus"),
])
def test_bad_spec_names_the_argument(tmp_path, monkeypatch, fields, argument):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidArgument) as error:
        spec(**fields).validate()
    assert error.value.argument == argument
    assert argument in str(error.value)


def test_replicas_and_keras_flavour():
    single = spec().validate()
    assert single.replicas == {"worker": 1} and not single.distributed and not single.use_legacy_keras
    full = spec(chief=True, ps=1, workers=2).validate()
    assert full.replicas == {"chief": 1, "worker": 2, "ps": 1}
    assert full.use_legacy_keras
    assert not spec(workers=2, legacy_keras=False).use_legacy_keras


def test_round_trip_through_dict():
    original = spec(hparams={"lr": 0.1}, resources=Resources(cpu=2, memory="1Gi", gpus=1)).validate()
    again = TrainSpec.from_dict(original.to_dict())
    assert again == original and again.resources.memory == 2**30


@pytest.mark.parametrize("text, expected", [
    ("lr=0.01", ("lr", 0.01)), ("units=64", ("units", 64)), ("layers=[1, 2]", ("layers", [1, 2])),
    ("act=relu", ("act", "relu")), ("flag=True", ("flag", True)), ("s='a=b'", ("s", "a=b")),
])
def test_hparams_are_python_literals(text, expected):
    assert parse_hparam(text) == expected


@pytest.mark.parametrize("text", ["lr", "1x=2", "=3"])
def test_bad_hparams(text):
    with pytest.raises(InvalidArgument) as error:
        parse_hparam(text)
    assert error.value.argument == "--hparam"


def test_memory_and_names():
    assert parse_memory("512Mi") == 512 * 2**20 and parse_memory("2G") == 2 * 10**9 and parse_memory(7) == 7
    assert slugify("My Notebook (copy).ipynb") == "my-notebook-copy-ipynb"
    with pytest.raises(InvalidArgument):
        DeploySpec(name="ep", model="m", replicas=0).validate()


@pytest.mark.parametrize("field, value", [("timeout", float("nan")), ("timeout", float("inf")), ("timeout", True)])
def test_a_timeout_that_is_not_a_finite_positive_number_is_refused(field, value):
    with pytest.raises(InvalidArgument, match="--timeout"):
        TrainSpec(name="t", code="pass", **{field: value}).validate()


@pytest.mark.parametrize("cpu", [float("nan"), float("inf")])
def test_a_cpu_count_that_is_not_finite_is_refused(cpu):
    with pytest.raises(InvalidArgument, match="--cpu"):
        Resources(cpu=cpu).validate()
