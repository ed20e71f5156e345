"""The notebook profiles: load `spawner_profiles/profiles.yaml`, check it, and
turn a spawn request's options into the form KubeSpawner applies.

The hub config, the Helm chart's ConfigMap and the tests all read the same
file through this module. It imports nothing from `hubml` on purpose: the hub
image carries JupyterHub and KubeSpawner, not TensorFlow.

Spawn requests name their choices in two shapes, and both must work:

- the hub's spawn form and `GET /hub/spawn?...` links (papermill batch runs use
  them) send `profile=<slug>` and `profile-option-<slug>--<option>=<choice>`;
- KubeSpawner reads `{"profile": <slug>, "<option>": <choice>}`, which is also
  what a REST API client may send directly (`POST /hub/api/users/<name>/server`).

`normalize_user_options` maps the first shape onto the second and refuses, with
a message that lists the valid names, a profile or choice that does not exist.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import yaml

PROFILES_ENV = "HUBML_PROFILES"
DEFAULT_PROFILES_PATH = Path(__file__).resolve().parent.parent / "spawner_profiles" / "profiles.yaml"
FORM_OPTION_PREFIX = "profile-option-"
UNLISTED_SUFFIX = "--unlisted-choice"
GPU_RESOURCE = "nvidia.com/gpu"
SLUG_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


class ProfileError(ValueError):
    """A profile file is malformed, or a spawn request names what it does not offer.

    A `ValueError`, as KubeSpawner raises for the same mistakes, so JupyterHub
    reports it to the user who asked.
    """


def profiles_path() -> Path:
    """Where the profiles live: `$HUBML_PROFILES`, else the repository's file."""
    return Path(os.environ.get(PROFILES_ENV) or DEFAULT_PROFILES_PATH)


def load_profiles(path: str | os.PathLike | None = None, include_gpu: bool = True) -> list[dict[str, Any]]:
    """Read and check a `profile_list` YAML file; return plain JSON-like data.

    The JSON round trip breaks YAML anchors apart, so a profile that shares its
    `profile_options` with another (`*cpu_images`) can be changed alone.
    `include_gpu=False` leaves out the GPU profiles, for a cluster without GPUs.
    """
    source = Path(path) if path is not None else profiles_path()
    try:
        data = yaml.safe_load(source.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ProfileError(f"cannot read profiles from {source}: {error}") from error
    profiles = json.loads(json.dumps(data))
    check_profiles(profiles, source=str(source))
    if not include_gpu:
        profiles = [profile for profile in profiles if not profile_gpus(profile)]
        if not profiles:
            raise ProfileError(f"{source}: GPU profiles are switched off and no CPU profile is left")
    return profiles


def profile_gpus(profile: dict[str, Any]) -> int:
    """How many NVIDIA GPUs a profile's notebook gets."""
    limits = profile.get("kubespawner_override", {}).get("extra_resource_limits", {})
    return int(limits.get(GPU_RESOURCE, 0))


def check_profiles(profiles: Any, source: str = "profiles") -> None:
    """Refuse a profile list KubeSpawner would misread or fail on at spawn time."""
    if not isinstance(profiles, list) or not profiles:
        raise ProfileError(f"{source}: expected a non-empty list of profiles")
    seen: set[str] = set()
    for index, profile in enumerate(profiles):
        where = f"{source}[{index}]"
        if not isinstance(profile, dict) or not profile.get("display_name"):
            raise ProfileError(f"{where}: every profile needs a display_name")
        slug = profile.get("slug", "")
        if not SLUG_PATTERN.match(slug):
            raise ProfileError(f"{where}: slug {slug!r} must be lowercase letters, digits and '-'")
        if slug in seen:
            raise ProfileError(f"{where}: slug {slug!r} is used twice")
        seen.add(slug)
        for name, option in profile.get("profile_options", {}).items():
            if not option.get("choices") and not option.get("unlisted_choice", {}).get("enabled"):
                raise ProfileError(f"{where}: option {name!r} offers no choice")
    if sum(bool(profile.get("default")) for profile in profiles) > 1:
        raise ProfileError(f"{source}: more than one profile is marked default")


def profile_slugs(profiles: list[dict[str, Any]]) -> list[str]:
    return [profile["slug"] for profile in profiles]


def find_profile(profiles: list[dict[str, Any]], slug: str | None) -> dict[str, Any]:
    """The profile named `slug`, or the default one (else the first) when no slug is given."""
    if not slug:
        return next((p for p in profiles if p.get("default")), profiles[0])
    for profile in profiles:
        if profile["slug"] == slug:
            return profile
    raise ProfileError(
        f"unknown profile {slug!r}; choose one of: {', '.join(profile_slugs(profiles))}"
    )


def normalize_user_options(
    user_options: dict[str, Any] | None, profiles: list[dict[str, Any]]
) -> dict[str, Any]:
    """Map form-style keys to KubeSpawner's and check every choice exists.

    `{"profile": "gpu-1", "profile-option-gpu-1--image": "tensorflow-gpu"}`
    becomes `{"profile": "gpu-1", "image": "tensorflow-gpu"}`. Keys that are no
    profile option pass through untouched (JupyterHub and other hooks own them).
    """
    options = dict(user_options or {})
    slug = options.get("profile")
    if isinstance(slug, list):  # a query string's `?profile=x` arrives as ["x"]
        slug = slug[0] if slug else None
    profile = find_profile(profiles, slug)
    result = {key: value for key, value in options.items() if not key.startswith(FORM_OPTION_PREFIX)}
    if slug:
        result["profile"] = profile["slug"]
    own_prefix = f"{FORM_OPTION_PREFIX}{profile['slug']}--"
    for key, value in options.items():
        if not key.startswith(FORM_OPTION_PREFIX):
            continue
        if not key.startswith(own_prefix):
            raise ProfileError(f"option {key!r} does not belong to profile {profile['slug']!r}")
        result[key[len(own_prefix):]] = value[0] if isinstance(value, list) else value
    check_choices(profile, result)
    return result


def check_choices(profile: dict[str, Any], options: dict[str, Any]) -> None:
    """Refuse a choice the profile does not list (KubeSpawner would raise a bare KeyError)."""
    offered = profile.get("profile_options", {})
    for name, option in offered.items():
        choice = options.get(name)
        if choice is None or options.get(name + UNLISTED_SUFFIX):
            continue
        choices = option.get("choices", {})
        if choice not in choices:
            raise ProfileError(
                f"profile {profile['slug']!r} has no {name!r} choice {choice!r}; "
                f"choose one of: {', '.join(choices)}"
            )
    # KubeSpawner's form sends a free-form value under `<option>--unlisted-choice`.
    for key in options:
        base = key[: -len(UNLISTED_SUFFIX)] if key.endswith(UNLISTED_SUFFIX) else None
        if base is not None and base not in offered:
            raise ProfileError(f"profile {profile['slug']!r} has no option {base!r}")


def profile_quota(profile: dict[str, Any]) -> dict[str, str]:
    """The ResourceQuota `hard` limits a profile sets on its user's namespace."""
    return {name: str(value) for name, value in profile.get("quota", {}).items()}
