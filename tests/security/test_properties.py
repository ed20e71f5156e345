"""Property-based tests (hypothesis): spec parsing, magic and CLI argument parsing, TF_CONFIG building.

Whatever text comes in, parsing either gives a valid value or raises `InvalidArgument` / `UsageError`
(argparse's exit 2 for the CLI), never another exception; what is accepted round-trips exactly.
"""
from __future__ import annotations

import json
import re
import string

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError
from traitlets.config import Config

from hubml.exceptions import InvalidArgument
from hubml.options import train_spec
from hubml.specs import MAX_NAME_LENGTH, MEMORY_UNITS, NAME_PATTERN, DeploySpec, TrainSpec, check_name, parse_hparam, \
    parse_memory
from hubml.tfconfig import ROLE_ORDER, cluster_spec, decider, replica_names, tf_config

FAST = settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
NAME_ALPHABET = string.ascii_lowercase + string.digits + "-"
names = st.from_regex(NAME_PATTERN, fullmatch=True).filter(lambda name: len(name) <= MAX_NAME_LENGTH)
nasty_text = st.text(st.characters(codec="utf-8"), max_size=60) | st.sampled_from(
    ["..", "../x", "/etc/passwd", "$(id)", "`id`", "a;b", "a\nb", "", " ", "a" * 41, "-a", "a-", "ÄÖ"])
literals = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                        | st.text(string.printable, max_size=20),
                        lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner), max_leaves=6)
identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True).filter(str.isidentifier)
replica_counts = st.fixed_dictionaries({"chief": st.integers(0, 1), "worker": st.integers(0, 6),
                                        "ps": st.integers(0, 3)}).filter(lambda counts: sum(counts.values()) > 0)


def accepted(parse, text: str, argument: str):
    """`parse(text)`, or None when it refused with `InvalidArgument` naming `argument`; any other error fails."""
    try:
        return parse(text)
    except InvalidArgument as error:
        assert error.argument == argument
        return None


# --- spec parsing ---------------------------------------------------------------------------------

@FAST
@given(nasty_text | names)
def test_a_name_is_either_a_dns_label_free_of_paths_and_shell_or_refused(text):
    if accepted(check_name, text, "--name") is None:
        return
    assert len(text) <= MAX_NAME_LENGTH and set(text) <= set(NAME_ALPHABET)
    assert not text.startswith("-") and not text.endswith("-") and ".." not in text and "/" not in text


@FAST
@given(nasty_text)
def test_memory_text_is_a_byte_count_or_refused(text):
    value = accepted(parse_memory, text, "--memory")
    assert value is None or isinstance(value, int) and value >= 0


@FAST
@given(st.integers(0, 10**6), st.sampled_from(sorted(MEMORY_UNITS)), st.sampled_from(["", "b"]), st.booleans())
def test_memory_quantities_parse_to_their_byte_count(number, unit, suffix, upper):
    text = f"{number}{unit}{suffix}"
    assert parse_memory(text.upper() if upper else text) == number * MEMORY_UNITS[unit]


@FAST
@given(nasty_text)
def test_hparam_text_binds_an_identifier_or_is_refused(text):
    binding = accepted(parse_hparam, text, "--hparam")
    assert binding is None or binding[0].isidentifier()


@FAST
@given(identifiers, literals)
def test_hparam_literals_round_trip(key, value):
    assert parse_hparam(f"{key}={value!r}") == (key, value)


spec_fields = st.fixed_dictionaries({}, optional={
    "workers": st.integers(-3, 5) | st.booleans() | st.floats() | st.text(max_size=3) | st.none(),
    "ps": st.integers(-2, 3) | st.none(), "chief": st.booleans(), "retries": st.integers(-2, 5) | st.text(max_size=2),
    "timeout": st.floats() | st.integers(-5, 5) | st.none() | st.text(max_size=2),
    "model": nasty_text | names | st.none(), "hparams": st.dictionaries(nasty_text | identifiers, literals, max_size=3),
    "code": nasty_text | st.just("print(1)"),
})


@FAST
@given(nasty_text | names, spec_fields)
def test_any_train_spec_validates_or_names_the_bad_field(name, fields):
    spec = TrainSpec(name=name, **{"code": "print(1)", **fields})
    try:
        spec.validate()
    except InvalidArgument as error:
        assert error.argument.startswith("--") or error.argument == "code"
        return
    assert TrainSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


@FAST
@given(nasty_text | names, nasty_text, st.integers(-3, 3) | st.none() | st.text(max_size=2),
       st.integers(-1, 3) | st.floats())
def test_any_deploy_spec_validates_or_names_the_bad_field(name, model, version, replicas):
    spec = DeploySpec(name=name, model=model, version=version, replicas=replicas)
    try:
        spec.validate()
    except InvalidArgument:
        return
    assert DeploySpec.from_dict(spec.to_dict()) == spec and NAME_PATTERN.match(spec.name)


@FAST
@given(nasty_text | st.from_regex(r"(s3|gs|file|gopher|memory)://[a-z0-9./-]{0,12}", fullmatch=True))
def test_a_storage_root_is_absolute_or_a_known_protocol_with_a_bucket_or_refused(url):
    from hubml.storage import check_root

    if accepted(check_root, url, "storage") is None:
        return
    scheme, separator, path = url.partition("://")
    assert ".." not in (path if separator else url).split("/")
    assert (not separator or scheme == "file") and (path if separator else url).startswith("/") \
        or separator and scheme not in ("gopher", "file") and path.strip("/")


# --- argument parsing: the magic's and the CLI's parsers over the same option declarations ----------

option_words = st.lists(st.sampled_from(["--workers", "--ps", "--chief", "--memory", "--gpus", "--cpu", "--hparam",
                                         "--name", "--timeout", "--retries", "--model", "--detach", "--bogus", "-x"])
                        | nasty_text.filter(lambda word: "\x00" not in word), max_size=8)


def parse_magic_line(line: str):
    from hubml.magics.base import parse_arguments
    from hubml.magics.train import TrainMagics

    return parse_arguments(TrainMagics.train, line)


@pytest.fixture(scope="module")
def cli_submit_parser():
    import argparse

    from hubml.options import TRAIN_OPTIONS, add_options

    parser = argparse.ArgumentParser(prog="hubml jobs submit", exit_on_error=False)
    parser.add_argument("script", nargs="?")
    add_options(parser.add_argument, TRAIN_OPTIONS)
    return parser


@FAST
@given(option_words)
def test_any_magic_line_parses_to_a_valid_spec_or_a_usage_error(words):
    try:
        args = parse_magic_line(" ".join(words))
        train_spec(args, "print(1)", "notebook-1").validate()
    except UsageError:  # InvalidArgument is one too
        return


@FAST
@given(option_words)
def test_any_cli_argv_parses_to_a_valid_spec_or_exits_2(cli_submit_parser, capsys, words):
    import argparse

    try:
        args = cli_submit_parser.parse_args(words)
        train_spec(args, "print(1)", "job").validate()
    except SystemExit as exit_:
        assert exit_.code == 2
    except (argparse.ArgumentError, InvalidArgument):
        return


@FAST
@given(names, st.integers(1, 5), st.integers(0, 3), st.booleans(),
       st.dictionaries(identifiers, st.integers() | st.floats(allow_nan=False, allow_infinity=False), max_size=3))
def test_valid_options_round_trip_through_both_parsers(cli_submit_parser, name, workers, ps, chief, hparams):
    words = ["--name", name, "--workers", str(workers), "--ps", str(ps), *(["--chief"] if chief else [])]
    for key, value in hparams.items():
        words += ["--hparam", f"{key}={value!r}"]
    for args in (parse_magic_line(" ".join(words)), cli_submit_parser.parse_args(words)):
        spec = train_spec(args, "print(1)", "default").validate()
        assert (spec.name, spec.workers, spec.ps, spec.chief, spec.hparams) == (name, workers, ps, chief, hparams)


# --- TF_CONFIG ----------------------------------------------------------------------------------

@FAST
@given(replica_counts)
def test_tf_config_names_every_replica_once_with_its_own_task(replicas):
    cluster = cluster_spec(replicas, lambda role, index: f"{role}-{index}.example:2222")
    assert list(cluster) == [role for role in ROLE_ORDER if replicas[role]]
    addresses = [address for role in cluster for address in cluster[role]]
    assert len(addresses) == len(set(addresses)) == sum(replicas.values())
    for role, index in replica_names(replicas):
        config = json.loads(tf_config(cluster, role, index))
        assert config == {"cluster": cluster, "task": {"type": role, "index": index}}
        assert cluster[role][index] == f"{role}-{index}.example:2222"
    deciding_role, deciding_index = decider(replicas)
    assert len(cluster.get(deciding_role, [])) > deciding_index or deciding_role == "worker" and not replicas["worker"]


@FAST
@given(replica_counts, st.sampled_from(ROLE_ORDER), st.integers(-3, 10))
def test_tf_config_for_a_task_outside_the_cluster_is_refused(replicas, role, index):
    cluster = cluster_spec(replicas, lambda r, i: f"{r}{i}:1")
    assume(not (role in cluster and 0 <= index < len(cluster[role])))
    with pytest.raises(ValueError, match="is not in the cluster"):
        tf_config(cluster, role, index)


@FAST
@given(names.filter(lambda name: len(name) <= MAX_NAME_LENGTH), st.from_regex(r"[0-9a-f]{6}", fullmatch=True),
       replica_counts.filter(lambda counts: sum(counts.values()) > 1 and (counts["worker"] or counts["chief"])))
def test_a_kubernetes_pods_tf_config_addresses_its_own_pod_by_a_valid_dns_name(name, suffix, replicas):
    from hubml.backends.kubernetes import manifests
    from hubml.backends.kubernetes.options import ClusterOptions
    from hubml.runtime.k8s_entry import tf_config_from_pod

    job_id = f"{name}-{suffix}"
    spec = TrainSpec(name=name, code="print(1)", workers=replicas["worker"], ps=replicas["ps"],
                     chief=bool(replicas["chief"])).validate()
    target = manifests.Target("hubml-alice", "alice", "s3://bucket/hubml", ClusterOptions.resolve(Config()))
    for role in spec.replicas:
        environment = dict(manifests.replica_environment(job_id, spec, role, target))
        for index in range(spec.replicas[role]):
            config = json.loads(tf_config_from_pod({**environment, "JOB_COMPLETION_INDEX": str(index)}))
            assert config["task"] == {"type": role, "index": index}
            host = config["cluster"][role][index].rsplit(":", 1)[0]
            assert host.startswith(f"{job_id}-{role}-{index}.")
            assert all(re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", label) for label in host.split("."))
