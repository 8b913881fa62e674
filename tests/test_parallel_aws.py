"""The engine against the sandbox: throttling retried, denials not, fan-out over regions."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

import geuse_nb as gn


@pytest.fixture()
def faults(sandbox: Any) -> Iterator[Any]:
    """The session sandbox, with faults cleared afterwards whatever the test did."""
    sandbox.clear_faults()
    try:
        yield sandbox
    finally:
        sandbox.clear_faults()


@pytest.fixture()
def raw_kit(sandbox: Any) -> Iterator[Any]:
    """A kit whose clients do not retry (botocore total_max_attempts=1), so every retry
    counted below is the engine's own."""
    with gn.Kit("raw", backend="sandbox", sandbox=sandbox, pool_max_attempts=1) as k:
        yield k


def test_throttling_is_retried_until_every_job_succeeds(faults: Any, raw_kit: Any) -> None:
    region = faults.regions[0]
    client = raw_kit.client("ec2", region)
    client.describe_availability_zones()  # warm the region backend before faults start
    faults.set_faults(throttle_rate=0.2, seed=11)
    results = raw_kit.pmap(lambda _: client.describe_availability_zones()["AvailabilityZones"],
                           range(200), retries=8, n_jobs=10, desc="throttled")
    assert results.ok, results.errors
    attempts = results.frame()["attempts"]
    retried = int((attempts > 1).sum())
    assert 15 <= retried <= 70, retried  # about a fifth of 200 (40 expected)
    rows = [r for r in raw_kit.metrics.rows("jobs") if r["map"] == "throttled"]
    assert len(rows) == 200 and sum(r["attempts"] for r in rows) == attempts.sum()


def test_denied_and_invalid_calls_are_not_retried(faults: Any, raw_kit: Any) -> None:
    client = raw_kit.client("ec2", faults.regions[0])

    def invalid(_: int) -> None:  # a real sandbox error: 400, not retryable
        client.describe_instances(InstanceIds=["i-doesnotexist0000"])

    def denied(_: int) -> None:  # a real sandbox error response, re-coded as a denial
        try:
            client.describe_instances(InstanceIds=["i-doesnotexist0000"])
        except ClientError as exc:
            response = copy.deepcopy(exc.response)
            response["Error"]["Code"] = "UnauthorizedOperation"
            response["ResponseMetadata"]["HTTPStatusCode"] = 403
            raise ClientError(response, "DescribeInstances") from None

    for fn in (invalid, denied):
        before = faults.requests()
        results = raw_kit.pmap(fn, range(3), retries=5)
        assert set(results.statuses.values()) == {"failed"}
        assert list(results.frame()["attempts"]) == [1, 1, 1]
        assert faults.requests() - before == 3  # one request per job: no retry anywhere
        assert all(isinstance(e, ClientError) for e in results.failed.values())


def test_fanout_lists_failed_regions(faults: Any, kit: Any) -> None:
    regions = faults.regions[:4]
    faults.set_faults(region=regions[1], outage="refuse")
    df = kit.fanout("ec2", "describe_availability_zones", regions=regions, n_jobs=4)
    assert set(df["region"]) == set(regions) - {regions[1]}
    failed = df.attrs["failed"]
    assert [f["region"] for f in failed] == [regions[1]]
    assert failed[0]["error"] and failed[0]["suggestion"]


def test_fanout_over_parameter_sets(faults: Any, kit: Any) -> None:
    regions = faults.regions[:2]
    sets = [{"InstanceTypes": ["m5.large"]}, {"InstanceTypes": ["t3.micro"]}]
    df = kit.fanout("ec2", "describe_instance_types", regions=regions, param_sets=sets)
    assert not df.attrs["failed"]
    pairs = {(r, tuple(p)) for r, p in zip(df["region"], df["InstanceTypes"],
                                            strict=True)}
    assert pairs == {(r, (t,)) for r in regions for t in ("m5.large", "t3.micro")}
    assert set(df["InstanceType"]) == {"m5.large", "t3.micro"}
    default = kit.fanout("ec2", "describe_availability_zones")
    assert set(default["region"]) == {kit.backend.default_region}
