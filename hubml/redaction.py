"""What a secret looks like, and hiding it wherever a spec or an environment is shown or stored for others.

A job's `env` may carry a user's token (`WANDB_API_KEY`, `HF_TOKEN`, ...). The
local backend keeps the real value only in its database under the private
HUBML_HOME, where the job's supervisor reads it; everything that shows a spec
(job descriptions, the sidebar API, widgets) or stores it elsewhere (the bundle's
`spec.json` in storage) goes through `redact_spec` first. Storage credentials
never enter a spec at all: processes inherit them, and on Kubernetes they come
from a Secret reference.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_?KEY|AUTH",
                         re.IGNORECASE)
MASK = "<redacted>"


def is_secret_name(name: str) -> bool:
    """True for variable names that, by convention, hold a secret."""
    return bool(SECRET_NAME.search(name))


def redact_env(env: Mapping[str, Any]) -> dict[str, Any]:
    return {key: MASK if is_secret_name(str(key)) else value for key, value in env.items()}


def redact_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a spec's dict (a TrainSpec's, or a TuneSpec's with its `template`) with secret env values masked."""
    shown = dict(spec)
    if isinstance(shown.get("env"), Mapping):
        shown["env"] = redact_env(shown["env"])
    if isinstance(shown.get("template"), Mapping):
        shown["template"] = redact_spec(shown["template"])
    return shown
