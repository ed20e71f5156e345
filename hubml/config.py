"""Where hubml's settings come from.

Precedence, highest first: an explicit argument (`Client(backend=...)`,
`--backend`), the `HUBML_*` environment, traitlets config (`c.HubML.backend =
"kubernetes"` in `ipython_config.py` or `hubml_config.py`, as JupyterHub users
expect), then the defaults declared on `HubML` below.
"""
from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, fields
from typing import Any

from traitlets import Enum, Float, Int, Unicode
from traitlets.config import Config, Configurable

from hubml.exceptions import InvalidArgument
from hubml.specs import Resources, parse_memory
from hubml.storage import check_root

MEMORY_ENFORCEMENTS = ("auto", "cgroup", "watchdog")


class HubML(Configurable):
    """hubml's options, settable as `c.HubML.<option>` in any traitlets config file."""

    backend = Unicode("local", help="Where jobs and endpoints run: 'local' or 'kubernetes'.").tag(config=True)
    home = Unicode("~/.hubml", help="Folder for hubml's state (local backend database, job folders).").tag(config=True)
    storage = Unicode("", help="Storage URL for bundles, logs and models; default file://{home}/storage.").tag(
        config=True)
    user = Unicode("", help="The user jobs are labelled with; default the login name.").tag(config=True)
    namespace = Unicode("", help="Kubernetes namespace to work in; default hubml-{user}.").tag(config=True)
    capacity_cpu = Float(0.0, help="Local backend: CPU cores jobs may use at once; 0 = all of the machine's.").tag(
        config=True)
    capacity_memory = Unicode("", help="Local backend: memory jobs may use at once, e.g. 16Gi; empty = all.").tag(
        config=True)
    capacity_gpus = Int(-1, help="Local backend: GPUs jobs may use at once; -1 = all visible.").tag(config=True)
    # One default for both backends: the local queue counts it, and the Kubernetes LimitRange of every user
    # namespace writes it into pods that name none, so the namespace's ResourceQuota admits them.
    default_cpu = Float(1.0, help="CPU cores a replica requests (and is limited to) when it names no --cpu; "
                                  "0 = no default.").tag(config=True)
    default_memory = Unicode("2Gi", help="Memory a replica requests (and is limited to) when it names no "
                                         "--memory, e.g. 2Gi; 0 = no default.").tag(config=True)
    memory_enforcement = Enum(MEMORY_ENFORCEMENTS, default_value="auto", help=(
        "Local backend: how a replica's memory limit is enforced. 'cgroup': a memory cgroup per replica "
        "(the kernel stops it at the limit; needs root or a delegated cgroup subtree); 'watchdog': the "
        "supervisor sums the RSS of the replica's process tree and stops it past the limit; 'auto': a "
        "cgroup where one can be made, else the watchdog.")).tag(config=True)


@dataclass(frozen=True)
class Settings:
    backend: str
    home: str
    storage: str
    user: str
    namespace: str
    capacity_cpu: float
    capacity_memory: str
    capacity_gpus: int
    default_cpu: float
    default_memory: str
    memory_enforcement: str

    @classmethod
    def resolve(cls, explicit: dict[str, Any] | None = None, config: Config | None = None) -> Settings:
        configured = HubML(config=config if config is not None else load_config_file())
        values = {}
        for item in fields(cls):
            value = (explicit or {}).get(item.name)
            if value is None:
                value = os.environ.get(f"HUBML_{item.name.upper()}")
            if value is None:
                value = getattr(configured, item.name)
            values[item.name] = value
        values["home"] = os.path.abspath(os.path.expanduser(values["home"]))
        values["storage"] = check_root(values["storage"] or f"file://{values['home']}/storage")
        values["user"] = values["user"] or getpass.getuser()
        values["namespace"] = values["namespace"] or f"hubml-{values['user']}"
        values["capacity_cpu"] = float(values["capacity_cpu"])
        values["capacity_gpus"] = int(values["capacity_gpus"])
        values["default_cpu"] = float(values["default_cpu"])
        if values["memory_enforcement"] not in MEMORY_ENFORCEMENTS:
            raise InvalidArgument("memory_enforcement", f"{values['memory_enforcement']!r} is not one of "
                                  f"{', '.join(MEMORY_ENFORCEMENTS)}")
        return cls(**values)

    def default_resources(self, resources: Resources) -> Resources:
        """`resources` with the default CPU and memory filled in where the user named none."""
        memory = resources.memory if resources.memory is not None else parse_memory(self.default_memory or "0",
                                                                                    "default_memory")
        cpu = resources.cpu if resources.cpu is not None else self.default_cpu
        return Resources(cpu=cpu or None, memory=memory or None, gpus=resources.gpus)

    def as_environment(self) -> dict[str, str]:
        """The same settings as `HUBML_*` variables, for processes hubml starts."""
        return {f"HUBML_{item.name.upper()}": str(getattr(self, item.name)) for item in fields(self)}


def load_config_file() -> Config:
    """`hubml_config.py` from Jupyter's config path, for use outside IPython (CLI, server)."""
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config.loader import ConfigFileNotFound, PyFileConfigLoader

    merged = Config()
    for folder in reversed(jupyter_config_path()):
        try:
            merged.merge(PyFileConfigLoader("hubml_config.py", path=folder).load_config())
        except ConfigFileNotFound:
            continue
    return merged
