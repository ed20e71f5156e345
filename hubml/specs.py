"""What a user asks for: plain, validated, serialisable specs.

Every front end (magics, CLI, widgets, server extension, tuning) builds one of
these and hands it to `hubml.Client`; backends only ever see validated specs.
`validate()` raises `InvalidArgument` naming the field, in the spelling of the
magic/CLI option (`--workers`), so every front end reports it the same way.
"""
from __future__ import annotations

import ast
import dataclasses
import json
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

from hubml.exceptions import InvalidArgument

# Kubernetes object names are DNS-1123 labels; a job id adds "-xxxxxx" and each
# role "-worker", so names stay well inside the 63-character limit.
NAME_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MAX_NAME_LENGTH = 40
ROLES = ("chief", "worker", "ps")
MEMORY_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
                "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}


def check_name(value: str, argument: str = "--name") -> str:
    if not isinstance(value, str) or not NAME_PATTERN.match(value) or len(value) > MAX_NAME_LENGTH:
        raise InvalidArgument(
            argument,
            f"{value!r} is not a valid name: use at most {MAX_NAME_LENGTH} lowercase letters, "
            "digits and '-', starting and ending with a letter or digit",
        )
    return value


def slugify(text: str) -> str:
    """Turn any text (a notebook file name, a script name) into a valid name stem."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[: MAX_NAME_LENGTH - 8].strip("-") or "job"


def parse_memory(value: str | int | None, argument: str = "--memory") -> int | None:
    """'512Mi', '4G', '2gb' or a byte count -> bytes (Kubernetes quantity suffixes)."""
    if value is None or isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]i?)?b?\s*", str(value).lower())
    if not match:
        raise InvalidArgument(argument, f"{value!r} is not a memory size such as 512Mi or 4Gi")
    return int(float(match.group(1)) * MEMORY_UNITS[match.group(2) or ""])


def parse_hparam(text: str, argument: str = "--hparam") -> tuple[str, Any]:
    """'lr=0.01' -> ('lr', 0.01); values are Python literals, else plain strings."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep:
        raise InvalidArgument(argument, f"{text!r} has no '=': write KEY=VALUE, e.g. lr=0.01")
    if not key.isidentifier():
        raise InvalidArgument(argument, f"{key!r} is not a Python identifier, so it cannot be bound as a variable")
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError):
        value = raw.strip()
    return key, value


def is_positive_number(value: object) -> bool:
    """A finite number above zero (NaN and infinity are not, nor is a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


@dataclass
class Resources:
    """What each replica asks for: CPU cores, memory in bytes, GPUs."""

    cpu: float | None = None
    memory: int | None = None
    gpus: int = 0

    def validate(self) -> Resources:
        if self.cpu is not None and not is_positive_number(self.cpu):
            raise InvalidArgument("--cpu", f"{self.cpu!r} must be a positive number of cores")
        self.memory = parse_memory(self.memory)
        if self.memory is not None and self.memory <= 0:
            raise InvalidArgument("--memory", "must be positive")
        if not isinstance(self.gpus, int) or self.gpus < 0:
            raise InvalidArgument("--gpus", f"{self.gpus!r} must be a whole number >= 0")
        return self


@dataclass
class TrainSpec:
    """A training job: the code to run, on how many replicas, with what.

    Exactly one of `code` (a cell or script body) and `package` + `module` (a
    standard Python package, as Cloud-ML and Vertex AI trainer packages) is set.
    """

    name: str
    code: str | None = None
    package: str | None = None
    module: str | None = None
    model: str | None = None
    workers: int = 1
    ps: int = 0
    chief: bool = False
    resources: Resources = field(default_factory=Resources)
    image: str | None = None
    requirements: str | None = None
    files: list[str] = field(default_factory=list)
    hparams: dict[str, Any] = field(default_factory=dict)
    retries: int = 0
    timeout: float | None = None
    env: dict[str, str] = field(default_factory=dict)
    legacy_keras: bool | None = None
    labels: dict[str, str] = field(default_factory=dict)
    source_dir: str = "."

    @property
    def replicas(self) -> dict[str, int]:
        """Replica count per role, roles with none left out."""
        counts = {"chief": int(self.chief), "worker": self.workers, "ps": self.ps}
        return {role: n for role, n in counts.items() if n}

    @property
    def distributed(self) -> bool:
        return sum(self.replicas.values()) > 1

    @property
    def use_legacy_keras(self) -> bool:
        """Multi-replica jobs run on tf-keras (TF_USE_LEGACY_KERAS=1) unless the user opts out.

        Keras 3's `fit` rejects MultiWorkerMirroredStrategy's distributed datasets
        (TF 2.21 / Keras 3.15); TensorFlow's own multi-worker tutorial takes tf-keras.
        """
        return self.distributed if self.legacy_keras is None else self.legacy_keras

    def validate(self) -> TrainSpec:
        check_name(self.name)
        check_name(self.model or self.name, "--model")
        self._validate_source()
        for argument, value in (("--workers", self.workers), ("--ps", self.ps), ("--retries", self.retries)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidArgument(argument, f"{value!r} must be a whole number >= 0")
        if self.workers == 0 and not self.chief:
            raise InvalidArgument("--workers", "must be at least 1 unless --chief is given")
        if self.timeout is not None and not is_positive_number(self.timeout):
            raise InvalidArgument("--timeout", f"{self.timeout!r} must be a positive number of seconds")
        self.resources.validate()
        for path in self.files:
            if not os.path.exists(self._local(path)):
                raise InvalidArgument("--files", f"{path!r} does not exist")
        if self.requirements and not os.path.isfile(self._local(self.requirements)):
            raise InvalidArgument("--requirements", f"{self.requirements!r} is not a file")
        for key in self.hparams:
            if not isinstance(key, str) or not key.isidentifier():
                raise InvalidArgument("--hparam", f"{key!r} is not a Python identifier")
        # They travel as JSON (spec.json, HUBML_HPARAMS): hold them as the job will see them (a tuple is a list).
        try:
            self.hparams = json.loads(json.dumps(self.hparams))
        except (TypeError, ValueError) as error:
            raise InvalidArgument("--hparam", f"values must be JSON values (numbers, strings, lists): {error}") from None
        return self

    def _validate_source(self) -> None:
        if self.package or self.module:
            if not self.package:
                raise InvalidArgument("--module", "needs --package DIR, the package that holds it")
            if not self.module:
                raise InvalidArgument("--package", "needs --module pkg.mod, the module to run")
            if self.code and self.code.strip():
                raise InvalidArgument("--package", "runs a package instead of the cell: leave the cell empty")
            if not os.path.isdir(self._local(self.package)):
                raise InvalidArgument("--package", f"{self.package!r} is not a folder")
            if not all(part.isidentifier() for part in self.module.split(".")):
                raise InvalidArgument("--module", f"{self.module!r} is not a dotted module name")
            return
        if not self.code or not self.code.strip():
            raise InvalidArgument("code", "the cell is empty: write the training code below %%train")
        try:
            compile(self.code, f"<{self.name}>", "exec")
        except SyntaxError as error:
            raise InvalidArgument("code", f"syntax error on line {error.lineno}: {error.msg}") from None

    def _local(self, path: str) -> str:
        return os.path.join(self.source_dir, os.path.expanduser(path))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainSpec:
        data = dict(data)
        data["resources"] = Resources(**data.get("resources", {}))
        return cls(**data)


@dataclass
class DeploySpec:
    """An endpoint: which model (name in storage, a path/URL, or a job's export) to serve, and how."""

    name: str
    model: str
    version: int | None = None
    replicas: int = 1
    batching: bool = False
    resources: Resources = field(default_factory=Resources)
    image: str | None = None

    def validate(self) -> DeploySpec:
        check_name(self.name)
        if not self.model:
            raise InvalidArgument("model", "name a model, a model folder or a job")
        if self.version is not None and (not isinstance(self.version, int) or self.version < 0):
            raise InvalidArgument("--version", f"{self.version!r} must be a whole number >= 0")
        if not isinstance(self.replicas, int) or self.replicas < 1:
            raise InvalidArgument("--replicas", f"{self.replicas!r} must be at least 1")
        self.resources.validate()
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeploySpec:
        data = dict(data)
        data["resources"] = Resources(**data.get("resources", {}))
        return cls(**data)
