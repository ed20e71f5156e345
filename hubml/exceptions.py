"""Every error hubml raises, under one root.

Errors a user caused by what they typed derive from `HubMLUsageError` (an
IPython `UsageError`), and the CLI turns them into exit code 2. IPython prints
a full traceback for any subclass of `UsageError` but its exact class, so
every hubml error renders itself (`_render_traceback_`, as jupysql's do): a
magic shows the message alone and the cell still fails. Each error carries its
fields and pickles.
"""
from __future__ import annotations

from IPython.core.error import UsageError


class HubMLError(Exception):
    """Root of every hubml error."""

    exit_code = 1

    def __reduce__(self):
        return (self.__class__, self.args)

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class HubMLUsageError(HubMLError, UsageError):
    """The user asked for something malformed; nothing was done."""

    exit_code = 2


class InvalidArgument(HubMLUsageError):
    """A spec field, magic option or CLI flag is wrong; nothing was submitted."""

    def __init__(self, argument: str, problem: str):
        super().__init__(argument, problem)
        self.argument = argument
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.argument}: {self.problem}"


class NotFound(HubMLError, LookupError):
    """A job, endpoint, sweep or model that does not exist (for this user): bad input, so exit code 2."""

    exit_code = 2

    def __init__(self, kind: str, name: str):
        super().__init__(kind, name)
        self.kind = kind
        self.name = name

    def __str__(self) -> str:
        return f"no {self.kind} named {self.name!r}"


class JobFailed(HubMLError):
    """A job ended FAILED or CANCELLED while someone waited on it."""

    def __init__(self, job_id: str, state: str, reason: str, log_tail: str = ""):
        super().__init__(job_id, state, reason, log_tail)
        self.job_id = job_id
        self.state = state
        self.reason = reason
        self.log_tail = log_tail

    def __str__(self) -> str:
        text = f"job {self.job_id} {self.state}: {self.reason}"
        if self.log_tail:
            text += f"\n--- last log lines ---\n{self.log_tail}"
        return text


class BackendError(HubMLError):
    """The backend could not do what was asked (cluster refused, process lost)."""


class StorageError(HubMLError):
    """Storage is unreachable, or a path in it is missing or malformed."""


class ModelLayoutError(HubMLUsageError):
    """A model folder does not follow TF Serving's `<base>/<version>/saved_model.pb` layout."""

    def __init__(self, base: str, problem: str):
        super().__init__(base, problem)
        self.base = base
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.base}: {self.problem} (TF Serving expects <base>/<version>/saved_model.pb)"


class ServingError(HubMLError):
    """A model server refused a request; `code` is the gRPC status name TF Serving uses.

    `hubml serve` raises it to answer a request, and the predict client raises it
    with the server's own error text, so both sides speak TF Serving's codes.
    """

    def __init__(self, code: str, message: str):
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class EndpointFailed(HubMLError):
    """An endpoint did not become ready: it failed (`state` FAILED) or was still starting when waiting ran out."""

    def __init__(self, name: str, state: str, reason: str):
        super().__init__(name, state, reason)
        self.name = name
        self.state = state
        self.reason = reason

    def __str__(self) -> str:
        return f"endpoint {self.name} {self.state}: {self.reason}"


class SweepFailed(HubMLError):
    """A sweep ended FAILED or CANCELLED (or has no best trial) while someone waited on it."""

    def __init__(self, sweep_id: str, state: str, reason: str):
        super().__init__(sweep_id, state, reason)
        self.sweep_id = sweep_id
        self.state = state
        self.reason = reason

    def __str__(self) -> str:
        return f"sweep {self.sweep_id} {self.state}: {self.reason}"


class MissingExtra(HubMLError, ImportError):
    """A part of hubml whose optional packages are not installed; `requirement` is what installs them."""

    def __init__(self, feature: str, requirement: str, missing: list[str]):
        super().__init__(feature, requirement, missing)
        self.feature = feature
        self.requirement = requirement
        self.missing = missing

    def __str__(self) -> str:
        verb = "is" if len(self.missing) == 1 else "are"
        return f"{self.feature} needs {', '.join(self.missing)}, which {verb} not installed: " \
               f"pip install '{self.requirement}'"
