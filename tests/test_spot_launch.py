"""spot.launch / watch / terminate on the sandbox: failover on capacity, a stop on any other
error, dry runs, interruption recovery, cleanup, and bad input refused before any request.
Results are checked with plain boto3, not with the code under test."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pandas as pd
import pytest

import geuse_nb as gn
from geuse_nb.errors import UsageError
from geuse_nb.ops import spot
from geuse_nb.sandbox import Sandbox

TYPE = "g4dn.xlarge"
POOLS = [("us-east-1", "us-east-1a", TYPE), ("us-east-1", "us-east-1b", TYPE),
         ("us-east-1", "us-east-1c", TYPE), ("eu-west-1", "eu-west-1a", TYPE)]


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox(seed=3, regions=["us-east-1", "eu-west-1"], rtt=0.0) as sandbox:
        yield sandbox


@pytest.fixture()
def kit(box: Sandbox) -> Iterator[Any]:
    """One try per call (pool_max_attempts=1): a capacity refusal is an HTTP 500 that
    botocore would otherwise retry with backoff (the figure is in the module docstring)."""
    box.clear_capacity()
    with gn.Kit("spot-launch", backend="sandbox", sandbox=box, pool_max_attempts=1) as k:
        yield k
    box.clear_capacity()


def _choice(pools: list[tuple[str, str, str]] = POOLS) -> pd.DataFrame:
    return pd.DataFrame({
        "role": ["pick"] + ["fallback"] * (len(pools) - 1), "order": range(1, len(pools) + 1),
        "region": [p[0] for p in pools], "availability_zone": [p[1] for p in pools],
        "instance_type": [p[2] for p in pools],
        "current_price": [0.20 + i / 100 for i in range(len(pools))]})


def _tagged(box: Sandbox, launch_id: str, region: str = "us-east-1") -> dict[str, Any]:
    """{instance id: item} of the launch's tag, read with plain boto3."""
    ec2 = boto3.client("ec2", region, endpoint_url=box.endpoint_url(region),
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    found = ec2.describe_instances(Filters=[{"Name": "tag:geuse:launch",
                                             "Values": [launch_id]}])
    return {i["InstanceId"]: i for r in found["Reservations"] for i in r["Instances"]}


def _run_instances(box: Sandbox) -> int:
    return sum(r["requests"] for r in box.counters()["requests"]
               if r["operation"] == "RunInstances")


def _describes(box: Sandbox) -> int:
    return sum(r["requests"] for r in box.counters()["requests"]
               if r["operation"] == "DescribeInstances")


def test_failover_fills_the_count_across_pools(kit: Any, box: Sandbox) -> None:
    box.set_capacity({POOLS[0]: 0, POOLS[1]: 1})
    before, began = box.requests(), time.perf_counter()
    run = spot.launch(kit, _choice(), count=2, tags={"team": "ml"})
    seconds, requests = time.perf_counter() - began, box.requests() - before
    print(f"launch with failover: {seconds:.3f} s, {requests} requests")
    assert run.ok and run.launched == 2 and run.error is None
    attempts = run.attempts
    assert attempts["availability_zone"].tolist() == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert attempts["outcome"].tolist() == ["no_capacity", "partial", "launched"]
    assert attempts["asked"].tolist() == [2, 2, 1]
    assert attempts["launched"].tolist() == [0, 1, 1]
    assert attempts.at[0, "error_code"] == "InsufficientInstanceCapacity"
    assert "(us-east-1a)" in attempts.at[0, "message"]
    assert (attempts["seconds"] > 0).all()
    found = _tagged(box, run.id)
    assert set(found) == set(run.instances["instance_id"])
    assert sorted(i["Placement"]["AvailabilityZone"] for i in found.values()) == [
        "us-east-1b", "us-east-1c"]
    for item in found.values():
        assert item["InstanceLifecycle"] == "spot" and item["InstanceType"] == TYPE
        assert item["State"]["Name"] == "running"
        assert {"Key": "team", "Value": "ml"} in item["Tags"]
    assert (run.instances["state"] == "running").all()
    assert run.instances["price"].tolist() == pytest.approx([0.21, 0.22])
    assert requests == 6  # 3 RunInstances, type + SSM image reads, 1 describe of the wait
    assert "2/2 running" in run.summary


def test_a_bad_image_stops_at_the_first_pool(kit: Any, box: Sandbox) -> None:
    before = _run_instances(box)
    run = spot.launch(kit, _choice(), count=2, image_id="ami-00000000deadbeef")
    assert not run.ok and run.launched == 0
    assert len(run.attempts) == 1 and run.attempts.at[0, "outcome"] == "failed"
    assert run.error is not None and run.error.error_code == "InvalidAMIID.NotFound"
    assert "image_id=None" in run.error.suggestion
    assert "image_id=None" in run.attempts.at[0, "message"]
    assert "InvalidAMIID.NotFound" in run.summary
    assert _run_instances(box) - before == 1  # no other pool tried
    assert _tagged(box, run.id) == {}


def test_a_dry_run_launches_nothing_and_says_what_would(kit: Any, box: Sandbox) -> None:
    box.set_capacity({POOLS[0]: 0})  # a dry run checks permissions, not capacity (as AWS)
    run = spot.launch(kit, _choice(), count=3, dry_run=True)
    assert run.ok and run.launched == 0
    assert run.attempts["outcome"].tolist() == ["would_launch"] * len(POOLS)
    assert run.summary.startswith(f"dry run: would launch 3 × {TYPE} in us-east-1a")
    assert _tagged(box, run.id) == {} and _tagged(box, run.id, "eu-west-1") == {}


def test_interrupt_then_watch_replaces_and_terminate_cleans_up(kit: Any, box: Sandbox) -> None:
    box.set_capacity({POOLS[0]: 0, POOLS[1]: 1})
    run = spot.launch(kit, _choice(), count=2)
    victim = run.instances.loc[run.instances["availability_zone"] == "us-east-1b",
                               "instance_id"].item()
    before, began = box.requests(), time.monotonic()
    box.interrupt([victim])
    events = spot.watch(kit, run, timeout=30, replacements=1, poll=0.05)
    seconds, requests = time.monotonic() - began, box.requests() - before
    print(f"interrupt → replacement running: {seconds:.3f} s, {requests} requests")
    assert events["event"].tolist() == ["interrupted", "replaced"]
    assert events.at[0, "instance_id"] == victim and events.attrs["replaced"] == 1
    new = events.at[1, "new_instance_id"]
    found = _tagged(box, run.id)
    assert found[victim]["State"]["Name"] == "terminated"
    assert found[new]["State"]["Name"] == "running"
    assert found[new]["Placement"]["AvailabilityZone"] == "us-east-1c"  # a pool with capacity
    assert seconds < 30 and requests <= 6  # one poll saw it: no timeout was waited out
    live = run.instances[run.instances["state"] == "running"]
    assert sorted(live["instance_id"]) == sorted([new, *(set(found) - {victim, new})])

    gone = spot.terminate(kit, run)
    assert set(gone["instance_id"]) == set(found) and (gone["state"] == "terminated").all()
    assert all(i["State"]["Name"] == "terminated" for i in _tagged(box, run.id).values())
    again = spot.launch(kit, _choice(POOLS[2:3]), count=1)  # a rerun sees none of the old
    assert set(spot.terminate(kit, again)["instance_id"]).isdisjoint(found)


def test_ctrl_c_in_watch_returns_what_it_has(kit: Any, box: Sandbox) -> None:
    import _thread

    run = spot.launch(kit, _choice(POOLS[2:3]), count=1)
    polls = _describes(box)
    watching = threading.Event()

    def press_ctrl_c() -> None:  # once watch has polled twice, as a user would, mid-watch
        watching.wait(10)
        deadline = time.monotonic() + 10
        while _describes(box) < polls + 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        _thread.interrupt_main()

    presser = threading.Thread(target=press_ctrl_c)
    presser.start()
    try:
        watching.set()
        events = spot.watch(kit, run, timeout=20, poll=0.05)
    finally:
        presser.join()
    assert events["event"].tolist() == ["stopped"]
    assert (run.instances["state"] == "running").all()  # what it had seen is kept
    spot.terminate(kit, run)


def test_watch_reports_an_instance_ended_by_someone_else(kit: Any, box: Sandbox) -> None:
    run = spot.launch(kit, _choice(POOLS[2:3]), count=1)
    kit.call("ec2", "terminate_instances", "us-east-1",
             InstanceIds=run.instances["instance_id"].tolist())
    events = spot.watch(kit, run, timeout=10, poll=0.05)
    assert events["event"].tolist() == ["ended"]  # not replaced, and nothing left to watch


def test_watch_keeps_going_through_throttled_polls(kit: Any, box: Sandbox) -> None:
    run = spot.launch(kit, _choice(POOLS[2:3]), count=1)
    box.set_faults(region="us-east-1", throttle_rate=1.0)
    try:
        events = spot.watch(kit, run, timeout=0.5, poll=0.05)  # returns at its timeout
    finally:
        box.clear_faults()
    assert events.empty and (run.instances["state"] == "running").all()
    assert spot.terminate(kit, run)["state"].tolist() == ["terminated"]


@pytest.mark.parametrize("change, said", [
    ({"count": 0}, "count=0"),
    ({"choice": _choice().iloc[:0]}, "the choice is empty"),
    ({"choice": _choice().rename(columns={"availability_zone": "az"})},
     "no column\\(s\\) availability_zone"),
    ({"choice": [("us-east-1", "us-east-1a", TYPE)]}, "must be the DataFrame"),
    ({"max_price": 0}, "max_price=0"),
    ({"max_price": -0.5}, "max_price=-0.5"),
    ({"image_id": "ubuntu"}, "not an AMI id"),
    ({"tags": {"geuse:launch": "x"}}, "may not set"),
])
def test_bad_input_is_refused_before_any_request(kit: Any, box: Sandbox,
                                                 change: dict[str, Any], said: str) -> None:
    args: dict[str, Any] = {"choice": _choice(), "count": 1, **change}
    before = box.requests()
    with pytest.raises(UsageError, match=said) as raised:
        spot.launch(kit, args.pop("choice"), **args)
    assert raised.value.suggestion
    assert box.requests() == before
