"""The cache seen through the Kit and the sandbox: a rerun is served from the cache, and
two identities never share entries."""

from __future__ import annotations

from typing import Any

import pytest

import geuse_nb as gn
from geuse_nb.errors import UsageError

REGIONS = ("us-east-1", "eu-west-1")

# A describe-heavy notebook: regions, AZs, a few instance types, spot prices, networks.
WORKLOAD: list[tuple[str, str, str, dict[str, Any]]] = [
    ("ec2", "describe_regions", "us-east-1", {}),
    *[("ec2", "describe_availability_zones", r, {}) for r in REGIONS],
    *[("ec2", "describe_instance_types", r, {"InstanceTypes": ["m5.large", "c5.large"]})
      for r in REGIONS],
    *[("ec2", "describe_spot_price_history", r,
       {"InstanceTypes": ["m5.large"], "ProductDescriptions": ["Linux/UNIX"]}) for r in REGIONS],
    *[("ec2", "describe_vpcs", r, {}) for r in REGIONS],
    *[("ec2", "describe_security_groups", r, {}) for r in REGIONS],
]


def run(kit: gn.Kit) -> list[Any]:
    return [kit.call(service, op, region, **params) for service, op, region, params in WORKLOAD]


def totals(kit: gn.Kit) -> tuple[int, int]:
    frame = kit.cache.stats()
    return int(frame["hits"].sum()), int(frame.attrs["lookups"])


def test_second_run_is_served_from_the_cache(kit: gn.Kit, sandbox: Any) -> None:
    first = run(kit)
    hits0, lookups0 = totals(kit)
    assert hits0 == 0 and lookups0 == len(WORKLOAD)
    before = sandbox.requests()
    second = run(kit)
    assert sandbox.requests() == before  # not one request reached the sandbox
    hits1, lookups1 = totals(kit)
    assert (hits1 - hits0) / (lookups1 - lookups0) >= 0.95
    assert second == first
    rows = kit.metrics.frame("api_calls")
    assert int(rows["cache_hit"].sum()) >= len(WORKLOAD) * 0.95

    # A new Kit (a restarted notebook) on the same cache_dir reads the run from disk, once
    # the first one's writes are there (the old kernel's exit flushes them)
    kit.cache.flush()
    with gn.Kit("rerun", backend="sandbox", sandbox=sandbox) as again:
        third = run(again)
        frame = again.cache.stats()
    assert sandbox.requests() == before
    assert third == first
    assert int(frame.query("tier == 'disk'")["hits"].sum()) >= 0.95 * len(WORKLOAD)


def test_two_identities_never_share_entries(sandbox: Any) -> None:
    with gn.Kit("alpha", backend="sandbox", sandbox=sandbox, aws_profile="alpha") as alpha, \
            gn.Kit("beta", backend="sandbox", sandbox=sandbox, aws_profile="beta") as beta:
        assert alpha.backend.identity != beta.backend.identity
        assert alpha.settings.cache_dir == beta.settings.cache_dir  # one disk cache, shared
        alpha.call("ec2", "describe_availability_zones", "eu-west-1")
        before = sandbox.requests()
        beta.call("ec2", "describe_availability_zones", "eu-west-1")
        assert sandbox.requests() > before  # beta could not use alpha's entry
        assert totals(beta)[0] == 0
        alpha.call("ec2", "describe_availability_zones", "eu-west-1")
        assert totals(alpha)[0] == 1

        calls: list[str] = []

        def whoami(tag: str) -> str:
            calls.append(tag)
            return tag

        alpha.cached(whoami)("x"), beta.cached(whoami)("x"), alpha.cached(whoami)("x")
        assert calls == ["x", "x"]


def test_refresh_skips_the_cache_and_stores(kit: gn.Kit, sandbox: Any) -> None:
    kit.call("ec2", "describe_regions", "us-east-1")
    before = sandbox.requests()
    kit.call("ec2", "describe_regions", "us-east-1", refresh=True)
    assert sandbox.requests() == before + 1
    kit.call("ec2", "describe_regions", "us-east-1")
    assert sandbox.requests() == before + 1


def test_kit_warm(kit: gn.Kit, sandbox: Any) -> None:
    """``kit.warm`` fills the cache in parallel; the same calls then send nothing."""
    frame = kit.warm(WORKLOAD[:4], n_jobs=4)
    assert frame["ok"].all() and len(frame) == 4
    before = sandbox.requests()
    for service, op, region, params in WORKLOAD[:4]:
        kit.call(service, op, region, **params)
    assert sandbox.requests() == before


def test_warm_rows_failures_and_specs(kit: gn.Kit, sandbox: Any) -> None:
    """A failing call is a row with the error, never an exception; ``cached_before`` tells
    what was there already; a spec in either form, and bad specs are named by position."""
    calls = [("ec2", "describe_regions", "us-east-1"),
             {"service": "ec2", "operation": "describe_availability_zones",
              "region": "eu-west-1"},
             ("ec2", "describe_instances", "us-east-1", {"InstanceIds": ["i-0000000000dead"]}),
             ("ec2", "describe_regions")]
    first = kit.warm(calls, n_jobs=3)
    assert list(first.columns) == ["service", "operation", "region", "params", "ok",
                                   "cached_before", "seconds", "error"]
    assert list(first["ok"]) == [True, True, False, True]
    assert "InvalidInstanceID" in first["error"].iloc[2]
    assert list(first["cached_before"]) == [False, False, False, None]  # None: default region
    assert first["params"].iloc[2] == {"InstanceIds": ["i-0000000000dead"]}
    before = sandbox.requests()
    second = kit.warm(calls[:2], n_jobs=3)
    assert list(second["cached_before"]) == [True, True] and second["ok"].all()
    assert sandbox.requests() == before
    assert kit.metrics.frame("operations")["name"].eq("cache.warm").sum() == 2
    for bad in (["ec2"], {"service": "ec2"}, 42, ("ec2", "x", 3)):
        with pytest.raises(UsageError, match="call #0"):
            kit.warm([bad])
