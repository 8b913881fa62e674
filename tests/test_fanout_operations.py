"""``kit.fanout`` over a list of operations (one map, an ``operation`` column) and its
longest-processing-time-first order from the kit's own ``api_calls`` history."""

from __future__ import annotations

from typing import Any

import pytest

from geuse_nb.aws.fanout import expected_latencies, longest_first
from geuse_nb.errors import UsageError


def _row(region: str, latency: float, operation: str = "describe_vpcs",
         cache_hit: bool = False) -> dict[str, Any]:
    return {"service": "ec2", "operation": operation, "region": region, "latency": latency,
            "cache_hit": cache_hit}


def test_list_of_operations_is_one_frame_with_an_operation_column(kit: Any) -> None:
    regions = ["us-east-1", "eu-west-1", "ap-southeast-2"]
    operations = ["describe_availability_zones", "describe_vpcs"]
    frame = kit.fanout("ec2", operations, regions, n_jobs=4)
    assert not frame.attrs["failed"]
    assert list(frame.columns[:2]) == ["region", "operation"]
    assert set(frame["operation"]) == set(operations)
    zones = frame[frame["operation"] == "describe_availability_zones"]
    for region in regions:  # each region's zones, the same as one call there answers
        expected = kit.call("ec2", "describe_availability_zones", region)
        got = zones[zones["region"] == region]["ZoneName"]
        assert sorted(got) == sorted(z["ZoneName"] for z in expected["AvailabilityZones"])
    vpcs = frame[frame["operation"] == "describe_vpcs"]
    assert set(vpcs["region"]) == set(regions) and vpcs["VpcId"].notna().all()
    one = kit.fanout("ec2", "describe_vpcs", regions)
    assert "operation" not in one.columns  # one name: the frame keeps its earlier shape
    assert len(one) == len(vpcs)


def test_list_of_operations_with_parameter_sets_and_failures(kit: Any) -> None:
    sets = [{"MaxResults": 5}, {"MaxResults": 6}]
    box = kit.sandbox
    box.set_faults("eu-west-1", outage="refuse")  # a region down: failed jobs, not an error
    try:
        frame = kit.fanout("ec2", ["describe_instance_types",
                                   "describe_instance_type_offerings"],
                           ["us-east-1", "eu-west-1"], param_sets=sets)
    finally:
        box.clear_faults()
    failed = frame.attrs["failed"]
    assert {f["region"] for f in failed} == {"eu-west-1"} and len(failed) == 4
    assert {f["operation"] for f in failed} == {"describe_instance_types",
                                                "describe_instance_type_offerings"}
    assert set(frame["region"]) == {"us-east-1"}
    assert {"operation", "MaxResults"} <= set(frame.columns)
    assert set(frame["MaxResults"]) == {5, 6}
    with pytest.raises(UsageError, match="no-such-1"):  # a typo: nothing is sent
        kit.fanout("ec2", ["describe_vpcs", "describe_subnets"], ["us-east-1", "no-such-1"])


@pytest.mark.parametrize("bad", [[], "", ["describe_vpcs", 3]])
def test_bad_operation_lists_say_what_to_pass(kit: Any, bad: Any) -> None:
    with pytest.raises(UsageError, match="operation") as info:
        kit.fanout("ec2", bad, ["us-east-1"])
    assert "describe_vpcs" in (info.value.suggestion or "")


def test_expected_latency_is_the_recent_median_per_region_and_operation() -> None:
    rows = [_row("a", 9.0)] * 20 + [_row("a", 0.2)] * 8 + [_row("b", 0.05)] * 3 + [
        _row("e", 1.2), _row("e", 0.01),
        _row("b", 5.0, cache_hit=True), _row("c", 0.1, operation="describe_subnets"),
        {**_row("d", 1.0), "service": "s3"}]
    got = expected_latencies(rows, "ec2", [("describe_vpcs", r) for r in "abcde"])
    assert got[("describe_vpcs", "a")] == pytest.approx(0.2)  # the latest 8, not the old 9 s
    assert got[("describe_vpcs", "b")] == pytest.approx(0.05)  # cache hits do not count
    assert got[("describe_vpcs", "c")] == pytest.approx(0.1)  # the region's other operation
    assert got[("describe_vpcs", "d")] is None  # another service's latency does not count
    assert got[("describe_vpcs", "e")] == pytest.approx(0.01)  # not half a first call


def test_longest_first_puts_unseen_then_slow_first_and_keeps_ties_in_order() -> None:
    expected = {"near1": 0.0090, "far": 0.200, "near2": 0.0095, "new": None, "mid": 0.080}
    assert longest_first(list(expected), expected) == ["new", "far", "mid", "near1", "near2"]


def test_fanout_starts_the_region_it_has_seen_slowest_first(kit: Any) -> None:
    box = kit.sandbox
    regions = ["us-east-1", "eu-west-1", "ap-southeast-2"]
    kit.fanout("ec2", "describe_vpcs", regions, n_jobs=1)  # seen once, all at RTT 0
    box.set_network(rtt=0.15, region="eu-west-1")
    try:
        for _ in range(3):  # learns it: the lower median of its latest attempts moves
            kit.fanout("ec2", "describe_vpcs", regions, n_jobs=1, refresh=True)
        kit.fanout("ec2", "describe_vpcs", regions, n_jobs=1, refresh=True, desc="ordered")
    finally:
        box.set_network(rtt=0.0)
    rows = [r for r in kit.metrics.rows("jobs") if r["map"] == "ordered"]
    started = [r["key"] for r in sorted(rows, key=lambda r: r["started"])]
    assert started[0] == "eu-west-1", started
