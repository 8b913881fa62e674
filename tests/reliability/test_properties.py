"""Property tests (hypothesis) for the two parsers of user input that everything else
trusts: the cache key builder (one entry per call, never two, never shared by two calls)
and the ``%aws`` argument parser (any token list gives a command or a ``UsageError``,
never another exception)."""

from __future__ import annotations

import datetime as dt
import random
import string
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geuse_nb.cache.keys import make_key
from geuse_nb.errors import UsageError
from geuse_nb.face._awsargs import kebab, operation_model, options_of, parse_command

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                   st.floats(allow_nan=False, allow_infinity=False),
                   st.text(max_size=20))
VALUE = st.recursive(SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)
PARAMS = st.dictionaries(st.from_regex(r"[A-Z][A-Za-z]{0,12}", fullmatch=True), VALUE,
                         max_size=5)


def _key(params: dict[str, Any], **over: Any) -> str:
    parts = {"scope": "sandbox:x:default", "region": "eu-west-1", "service": "ec2",
             "operation": "describe_instances", "params": params, **over}
    return make_key(**parts)


def _shuffled(value: Any, rnd: random.Random) -> Any:
    """The same value with every dict's insertion order shuffled and lists as tuples."""
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {k: _shuffled(v, rnd) for k, v in items}
    if isinstance(value, list):
        return tuple(_shuffled(v, rnd) for v in value)
    return value


@SETTINGS
@given(PARAMS, st.randoms(use_true_random=False))
def test_key_is_the_same_for_the_same_call(params: dict[str, Any], rnd: Any) -> None:
    assert _key(params) == _key(_shuffled(params, rnd))
    assert _key(params, operation="DescribeInstances") == _key(params)
    assert _key(params, operation="describe-instances") == _key(params)


@SETTINGS
@given(PARAMS, PARAMS)
def test_different_calls_never_share_a_key(a: dict[str, Any], b: dict[str, Any]) -> None:
    import json

    same = json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert (_key(a) == _key(b)) == same
    assert _key(a, region="us-east-1") != _key(a)
    assert _key(a, scope="aws:other") != _key(a)


@SETTINGS
@given(st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2100, 1, 1)))
def test_naive_datetimes_are_utc_in_keys(when: dt.datetime) -> None:
    aware = when.replace(tzinfo=dt.UTC)
    shifted = aware.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30)))
    assert _key({"StartTime": when}) == _key({"StartTime": aware}) == \
        _key({"StartTime": shifted})


@SETTINGS
@given(PARAMS)
def test_key_is_readable_and_never_holds_the_values(params: dict[str, Any]) -> None:
    key = _key({**params, "Secret": "canary-value-xyz"})
    assert key.startswith("ec2.describe_instances@eu-west-1:")
    assert "canary" not in key and len(key) < 120


# ---------------------------------------------------------------- %aws
TOKEN = st.one_of(
    st.text(alphabet=string.ascii_letters + string.digits + "-_=,[]{}:.\"' ", max_size=24),
    st.sampled_from(["--region", "--refresh", "--query", "--dry-run", "--no-dry-run",
                     "--instance-ids", "--filters", "--max-results", "Name=x,Values=a,b",
                     "[1,2]", "{\"a\": 1}", "--", "-", "eu-west-1"]),
)
FIRST = st.sampled_from(["ec2", "ec3", "s3", "sts", "cloudformation", ""])
SECOND = st.sampled_from(["describe-instances", "describe-regions", "describe-spot-price-history",
                          "get-caller-identity", "list-stacks", "describe-instancez", ""])


@SETTINGS
@given(FIRST, SECOND, st.lists(TOKEN, max_size=8))
def test_any_token_list_is_a_command_or_a_usage_error(first: str, second: str,
                                                       rest: list[str]) -> None:
    try:
        cmd = parse_command([t for t in (first, second) if t] + rest)
    except UsageError as exc:
        assert str(exc) and exc.suggestion  # it says what is wrong and what to do
        return
    assert cmd.service == first and cmd.params is not None


@SETTINGS
@given(st.lists(st.from_regex(r"i-[0-9a-f]{8,17}", fullmatch=True), min_size=1, max_size=6),
       st.integers(5, 1000), st.booleans())
def test_typed_values_come_back_as_given(ids: list[str], most: int, dry: bool) -> None:
    flag = "--dry-run" if dry else "--no-dry-run"
    cmd = parse_command(["ec2", "describe-instances", "--instance-ids", *ids,
                         "--max-results", str(most), flag])
    assert cmd.params == {"InstanceIds": ids, "MaxResults": most, "DryRun": dry}


@SETTINGS
@given(st.from_regex(r"--[a-z][a-z-]{2,20}", fullmatch=True))
def test_an_unknown_option_is_named(option: str) -> None:
    valid = set(options_of(operation_model("ec2", "DescribeRegions")))
    try:
        parse_command(["ec2", "describe-regions", option, "x"])
    except UsageError as exc:
        assert option in str(exc)
        return
    assert option in valid or option in ("--region", "--query", "--refresh") or \
        option.removeprefix("--no-") in {kebab(v) for v in valid}
