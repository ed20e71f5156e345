"""hub_config/profiles.py: the profile file's checks and the spawn-option mapping."""
from __future__ import annotations

import pytest
import yaml

from hub_config.profiles import (
    ProfileError,
    find_profile,
    load_profiles,
    normalize_user_options,
    profile_gpus,
    profile_quota,
)

PROFILES = load_profiles()


def write(tmp_path, profiles) -> str:
    path = tmp_path / "profiles.yaml"
    path.write_text(profiles if isinstance(profiles, str) else yaml.safe_dump(profiles))
    return str(path)


def test_the_shipped_file_has_cpu_small_cpu_large_one_and_four_gpus():
    assert [(p["slug"], profile_gpus(p)) for p in PROFILES] == [("cpu-small", 0), ("cpu-large", 0), ("gpu-1", 1), ("gpu-4", 4)]
    assert find_profile(PROFILES, None)["slug"] == "cpu-small"
    for profile in PROFILES:
        assert profile["profile_options"]["image"]["choices"], profile["slug"]
        assert profile_quota(profile)["requests.nvidia.com/gpu"] == str(2 * profile_gpus(profile))


def test_shared_yaml_anchors_become_independent_copies():
    small, large = PROFILES[0], PROFILES[1]
    assert small["profile_options"] == large["profile_options"]
    assert small["profile_options"] is not large["profile_options"]


def test_gpu_profiles_can_be_left_out_for_a_cluster_without_gpus():
    assert [p["slug"] for p in load_profiles(include_gpu=False)] == ["cpu-small", "cpu-large"]


def test_the_path_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HUBML_PROFILES", write(tmp_path, [{"display_name": "Only", "slug": "only"}]))
    assert [p["slug"] for p in load_profiles()] == ["only"]


@pytest.mark.parametrize("profiles, message", [
    ("- [unclosed", "cannot read profiles"),
    ([], "expected a non-empty list"),
    ([{"slug": "a"}], "every profile needs a display_name"),
    ([{"display_name": "A", "slug": "Big GPU"}], "must be lowercase letters"),
    ([{"display_name": "A", "slug": "a"}, {"display_name": "B", "slug": "a"}], "slug 'a' is used twice"),
    ([{"display_name": "A", "slug": "a", "default": True}, {"display_name": "B", "slug": "b", "default": True}],
     "more than one profile is marked default"),
    ([{"display_name": "A", "slug": "a", "profile_options": {"image": {"display_name": "Image"}}}],
     "option 'image' offers no choice"),
    ([{"display_name": "G", "slug": "g", "kubespawner_override": {"extra_resource_limits": {"nvidia.com/gpu": "1"}}}],
     None),
])
def test_a_malformed_file_is_refused_with_where_and_why(tmp_path, profiles, message):
    path = write(tmp_path, profiles)
    if message is None:  # valid, but nothing is left once GPU profiles are off
        load_profiles(path)
        with pytest.raises(ProfileError, match="no CPU profile is left"):
            load_profiles(path, include_gpu=False)
        return
    with pytest.raises(ProfileError, match=message):
        load_profiles(path)


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(ProfileError, match="cannot read profiles from"):
        load_profiles(tmp_path / "nope.yaml")


@pytest.mark.parametrize("given, expected", [
    ({"profile": "gpu-1", "profile-option-gpu-1--image": "tensorflow-gpu"}, {"profile": "gpu-1", "image": "tensorflow-gpu"}),
    ({"profile": ["gpu-1"], "profile-option-gpu-1--image": ["tensorflow-gpu"]}, {"profile": "gpu-1", "image": "tensorflow-gpu"}),
    ({"profile": "cpu-small", "image": "tensorflow"}, {"profile": "cpu-small", "image": "tensorflow"}),
    ({"profile": "cpu-small", "profile-option-cpu-small--image--unlisted-choice": "me/nb:1"},
     {"profile": "cpu-small", "image--unlisted-choice": "me/nb:1"}),
    ({}, {}),
    (None, {}),
])
def test_form_and_rest_shapes_map_to_kubespawners(given, expected):
    assert normalize_user_options(given, PROFILES) == expected
