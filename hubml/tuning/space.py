"""Search spaces: `--param "lr=loguniform(1e-4,1e-1)"` into Optuna distributions.

    lr=loguniform(1e-4, 1e-1)     a float, sampled uniformly in log space (0 < low < high)
    dropout=uniform(0, 0.5)       a float (low < high)
    units=choice(32, 64, 128)     one of the listed literals (numbers, strings, booleans)
    layers=int(1, 4)              an integer, both ends included; `int(16, 128, 16)` steps by 16
    batch=intuniform(16, 128)     the same as int(...)

The text is parsed with `ast` (never evaluated), and every mistake is an
`InvalidArgument` for `--param` whose message starts with the parameter's name.
Optuna is imported only when distributions are built, so specs stay light.
"""
from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Any

from hubml.exceptions import InvalidArgument

ARGUMENT = "--param"
INT_NAMES = ("int", "intuniform")
DISTRIBUTIONS = ("choice", "int", "intuniform", "loguniform", "uniform")
EXAMPLE = "lr=loguniform(1e-4,1e-1)"


@dataclass(frozen=True)
class Param:
    """One searched hyperparameter: its name, distribution kind and arguments."""

    name: str
    kind: str
    args: tuple[Any, ...]

    @property
    def gridable(self) -> bool:
        return self.kind in ("choice", "int")

    def distribution(self) -> Any:
        """The Optuna distribution this parameter is sampled from."""
        from optuna import distributions

        if self.kind == "choice":
            return distributions.CategoricalDistribution(self.args)
        if self.kind == "int":
            low, high, step = self.args
            return distributions.IntDistribution(low, high, step=step)
        low, high = self.args
        return distributions.FloatDistribution(low, high, log=self.kind == "loguniform")

    def grid(self) -> list[Any]:
        """Every value a grid search visits."""
        if self.kind == "choice":
            return list(self.args)
        if self.kind == "int":
            low, high, step = self.args
            return list(range(low, high + 1, step))
        raise InvalidArgument(ARGUMENT, f"{self.name}: grid search needs choice(...) or int(...), "
                                        f"not {self.kind}(...); use --algorithm random or tpe for it")

    def __str__(self) -> str:
        args = self.args[:2] if self.kind == "int" and self.args[2] == 1 else self.args
        return f"{self.name}={self.kind}({', '.join(repr(value) for value in args)})"


def parse_param(text: str) -> Param:
    """'lr=loguniform(1e-4,1e-1)' -> Param('lr', 'loguniform', (0.0001, 0.1))."""
    text = str(text).strip()
    if len(text) > 1 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]  # IPython's magic argument splitting keeps the quotes around `--param "..."`
    name, sep, expression = (part.strip() for part in text.partition("="))
    if not sep or not expression:
        raise InvalidArgument(ARGUMENT, f"{text!r} is not NAME=DISTRIBUTION(...), e.g. {EXAMPLE}")
    if not name.isidentifier():
        raise InvalidArgument(ARGUMENT, f"{name!r}: not a Python identifier, so it cannot be bound as a variable")
    kind, args = _parse_call(name, expression)
    check = {"choice": _check_choice, "loguniform": _check_loguniform, "uniform": _check_uniform}.get(kind, _check_int)
    return Param(name, "int" if kind in INT_NAMES else kind, check(name, kind, args))


def parse_space(texts: list[str]) -> list[Param]:
    """Every `--param`, parsed; a name given twice is refused."""
    if not texts:
        raise InvalidArgument(ARGUMENT, f"give at least one parameter to search, e.g. --param \"{EXAMPLE}\"")
    params = [parse_param(text) for text in texts]
    seen: set[str] = set()
    for param in params:
        if param.name in seen:
            raise InvalidArgument(ARGUMENT, f"{param.name}: given more than once")
        seen.add(param.name)
    return params


def grid_size(params: list[Param]) -> int:
    return math.prod(len(param.grid()) for param in params)


def _parse_call(name: str, expression: str) -> tuple[str, list[Any]]:
    try:
        node = ast.parse(expression, mode="eval").body
    except SyntaxError:
        raise InvalidArgument(ARGUMENT, f"{name}: {expression!r} is not DISTRIBUTION(...), e.g. {EXAMPLE}") from None
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise InvalidArgument(ARGUMENT, f"{name}: {expression!r} is not DISTRIBUTION(...), e.g. {EXAMPLE}")
    kind = node.func.id
    if kind not in DISTRIBUTIONS:
        raise InvalidArgument(ARGUMENT, f"{name}: unknown distribution {kind!r}; use one of {', '.join(DISTRIBUTIONS)}")
    if node.keywords:
        raise InvalidArgument(ARGUMENT, f"{name}: {kind}(...) takes positional values only")
    try:
        return kind, [ast.literal_eval(argument) for argument in node.args]
    except ValueError:
        raise InvalidArgument(ARGUMENT, f"{name}: the values of {kind}(...) must be literals") from None


def _check_choice(name: str, kind: str, args: list[Any]) -> tuple[Any, ...]:
    if not args:
        raise InvalidArgument(ARGUMENT, f"{name}: choice() is empty; list at least one value")
    for value in args:
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise InvalidArgument(ARGUMENT, f"{name}: choice values must be numbers, strings or booleans, "
                                            f"not {value!r}")
    if len(set(map(repr, args))) != len(args):
        raise InvalidArgument(ARGUMENT, f"{name}: choice{tuple(args)!r} lists a value twice")
    return tuple(args)


def _bounds(name: str, kind: str, args: list[Any]) -> tuple[float, ...]:
    if len(args) != 2 or not all(_is_number(value) for value in args):
        raise InvalidArgument(ARGUMENT, f"{name}: {kind}(low, high) needs two numbers, got {kind}{tuple(args)!r}")
    if not all(math.isfinite(value) for value in args):
        raise InvalidArgument(ARGUMENT, f"{name}: {kind}(...) bounds must be finite")
    return tuple(args)


def _check_uniform(name: str, kind: str, args: list[Any]) -> tuple[float, float]:
    low, high = _bounds(name, kind, args)
    if not low < high:
        raise InvalidArgument(ARGUMENT, f"{name}: uniform(low, high) needs low < high, got ({low}, {high})")
    return float(low), float(high)


def _check_loguniform(name: str, kind: str, args: list[Any]) -> tuple[float, float]:
    low, high = _bounds(name, kind, args)
    if not 0 < low < high:
        raise InvalidArgument(ARGUMENT, f"{name}: loguniform(low, high) needs 0 < low < high, got ({low}, {high})")
    return float(low), float(high)


def _check_int(name: str, kind: str, args: list[Any]) -> tuple[int, int, int]:
    if len(args) not in (2, 3) or not all(isinstance(value, int) and not isinstance(value, bool) for value in args):
        raise InvalidArgument(ARGUMENT, f"{name}: {kind}(low, high[, step]) needs whole numbers, "
                                        f"got {kind}{tuple(args)!r}")
    low, high, step = (*args, 1) if len(args) == 2 else args
    if low > high or step < 1:
        raise InvalidArgument(ARGUMENT, f"{name}: {kind}(low, high, step) needs low <= high and step >= 1, "
                                        f"got ({low}, {high}, {step})")
    if (high - low) % step:
        raise InvalidArgument(ARGUMENT, f"{name}: {kind}({low}, {high}, {step}): high - low must be a multiple "
                                        "of step")
    return low, high, step


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
