"""Cache keys (the one builder) and the kinds table they read."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geuse_nb.cache.keys import make_key
from geuse_nb.errors import UsageError
from geuse_nb.kinds import is_read_operation, kind_of

SCOPE = "sandbox:http://127.0.0.1:1:default"


def key(name: str = "x", scope: str = SCOPE, **params: Any) -> str:
    return make_key(scope=scope, region="us-east-1", service="ec2",
                    operation="describe_instances", params={"name": name, **params})

def test_key_is_readable_and_normalises_params() -> None:
    a = make_key(scope=SCOPE, region="eu-west-1", service="ec2",
                 operation="describe_spot_price_history",
                 params={"InstanceTypes": ("m5.large", "c5.large"), "B": {"y": 1, "x": 2},
                         "StartTime": dt.datetime(2026, 1, 1, 12, 0)})
    b = make_key(scope=SCOPE, region="eu-west-1", service="EC2",
                 operation="DescribeSpotPriceHistory",
                 params={"StartTime": dt.datetime(2026, 1, 1, 13, 0,
                                                  tzinfo=dt.timezone(dt.timedelta(hours=1))),
                         "B": {"x": 2, "y": 1}, "InstanceTypes": ["m5.large", "c5.large"]})
    assert a == b
    assert a.startswith("ec2.describe_spot_price_history@eu-west-1:")
    assert make_key(scope=SCOPE, region=None, service="ec2", operation="describe-regions",
                    params={}).startswith("ec2.describe_regions@-:")


def test_key_differs_by_every_part() -> None:
    base = {"scope": SCOPE, "region": "us-east-1", "service": "ec2",
            "operation": "describe_instances", "params": {"MaxResults": 5}}
    variants = [
        {"scope": "sandbox:http://127.0.0.1:1:other"}, {"region": "us-west-2"},
        {"service": "autoscaling"}, {"operation": "describe_volumes"},
        {"params": {"MaxResults": 6}}, {"params": {"MaxResults": "5"}},
        {"params": {"MaxResults": 5.0}}, {"params": {"MaxResults": True}},
        {"params": {"MaxResults": [5]}},
    ]
    keys = {make_key(**base)} | {make_key(**{**base, **v}) for v in variants}
    assert len(keys) == len(variants) + 1


def test_key_sets_sorted_dates_and_mixed_keys() -> None:
    one = make_key(scope=SCOPE, region="r", service="s", operation="get_x",
                   params={"Ids": {"b", "a", "c"}, "Day": dt.date(2026, 1, 2),
                           "M": {1: "a", "2": "b"}})
    two = make_key(scope=SCOPE, region="r", service="s", operation="get_x",
                   params={"M": {"2": "b", 1: "a"}, "Day": dt.date(2026, 1, 2),
                           "Ids": frozenset({"c", "a", "b"})})
    assert one == two


def test_key_is_stable_across_processes() -> None:
    code = ("from geuse_nb.cache.keys import make_key; import datetime as d; print(make_key("
            "scope='s', region='r', service='ec2', operation='describe_x', "
            "params={'b': {3, 1, 2}, 'a': d.datetime(2026, 1, 1)}))")
    here = make_key(scope="s", region="r", service="ec2", operation="describe_x",
                    params={"a": dt.datetime(2026, 1, 1), "b": {2, 3, 1}})
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, env={**os.environ, "PYTHONHASHSEED": seed},
                             cwd=Path(__file__).resolve().parents[1])
        assert out.stdout.strip() == here


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(max_size=8),
                       st.one_of(st.integers(), st.text(max_size=8), st.booleans(),
                                 st.lists(st.integers(), max_size=4)), max_size=6),
       st.randoms())
def test_key_ignores_param_order(params: dict[str, Any], rnd: Any) -> None:
    items = list(params.items())
    rnd.shuffle(items)
    assert key(**{"p": params}) == key(**{"p": dict(items)})


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6)
    | st.datetimes(timezones=st.none() | st.timezones()) | st.binary(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=3),
    max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(_JSON)
def test_the_reused_c_encoder_writes_what_json_dumps_writes(value: Any) -> None:
    from geuse_nb.cache import keys

    assert keys._dumps(value) == json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
        default=keys._json_default)


def test_a_cycle_in_params_is_a_usage_error() -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(UsageError, match="Circular reference"):
        make_key(scope=SCOPE, region="r", service="ec2", operation="describe_x",
                 params={"Filters": [loop]})


def test_key_refuses_unkeyable_params() -> None:
    with pytest.raises(UsageError, match="cannot build a cache key") as err:
        make_key(scope=SCOPE, region="r", service="ec2", operation="describe_x",
                 params={"client": object()})
    assert "plain values" in str(err.value)


@pytest.mark.parametrize(("service", "operation", "kind"), [
    ("ec2", "describe_regions", "regions"),
    ("ec2", "DescribeAvailabilityZones", "availability_zones"),
    ("ec2", "describe-instance-types", "instance_types"),
    ("ec2", "describe_instance_type_offerings", "instance_types"),
    ("ec2", "describe_spot_price_history", "spot_prices"),
    ("ec2", "describe_instances", None),
    ("s3", "describe_regions", None),
])
def test_kind_of(service: str, operation: str, kind: str | None) -> None:
    assert kind_of(service, operation) == kind


@pytest.mark.parametrize(("operation", "read"), [
    ("describe_instances", True), ("DescribeInstances", True), ("describe-instances", True),
    ("get_caller_identity", True), ("ListStacks", True), ("list-metrics", True),
    ("run_instances", False), ("CreateStack", False), ("delete-stack", False),
    ("getaway", False), ("describer", False),
])
def test_is_read_operation(operation: str, read: bool) -> None:
    assert is_read_operation(operation) is read
