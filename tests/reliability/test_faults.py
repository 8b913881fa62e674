"""Faults on the sandbox across fanout, pmap, spot history and rollout run: throttling at
10/30/50 %, 5xx at 10 %, one region refusing and one hanging, a region that recovers
mid-run. No result is lost or duplicated, every failure is in the result table with its
error and suggestion, and the total time stays under the bound the settings give
(README: "How the read timeout, botocore attempts and job retries combine")."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from reliability_figures import add_figure, faults_injected

from geuse_nb.ops import rollout, spot

REGIONS = ["us-east-1", "eu-west-1", "us-west-2", "ap-southeast-1", "eu-central-1",
           "ap-northeast-1", "sa-east-1", "ca-central-1"]


def call_bound(settings: Any) -> float:
    """Worst case of one kit call: every botocore attempt waits the connect and read
    timeouts, with botocore's standard backoff (rand × 2^(i-1) s, capped at 20 s) between."""
    attempts = settings.pool_max_attempts
    waits = sum(min(2 ** (i - 1), 20) for i in range(1, attempts))
    return attempts * (settings.pool_connection_timeout + settings.pool_read_timeout) + waits


def job_bound(settings: Any, backoff_cap: float = 10.0, backoff_base: float = 0.2) -> float:
    """Worst case of one job: (retries + 1) calls, each capped by the job timeout, plus
    the engine's jittered backoff between them."""
    per_call = call_bound(settings)
    if settings.parallel_job_timeout is not None:
        per_call = min(per_call, settings.parallel_job_timeout)
    retries = settings.parallel_retry_count
    waits = sum(min(backoff_cap, backoff_base * 2 ** (i - 1)) for i in range(1, retries + 1))
    return (retries + 1) * per_call + waits


@pytest.fixture()
def fkit(sandbox: Any) -> Iterator[Any]:
    """A kit with short timeouts, so the hang case ends in seconds."""
    import geuse_nb as gn

    with gn.Kit("faults", backend="sandbox", sandbox=sandbox, pool_read_timeout=0.5,
                pool_connection_timeout=0.5, pool_max_attempts=2,
                parallel_retry_count=2, parallel_job_timeout=10) as kit:
        yield kit


def _check_fanout(frame: Any, regions: list[str], expect_failed: set[str]) -> None:
    failed = {f["region"]: f for f in frame.attrs["failed"]}
    assert set(failed) == expect_failed
    for f in failed.values():
        assert f["error"] and f["suggestion"], f
    served = set(frame["region"])
    assert served == set(regions) - expect_failed  # every region once: here or failed
    assert not served & set(failed)
    zones = frame["ZoneName"].tolist()
    assert len(zones) == len(set(zones))  # no duplicated rows
    add_figure("results_lost", len(set(regions) - served - set(failed)))
    add_figure("duplicated_requests", len(zones) - len(set(zones)))


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.5])
def test_fanout_and_pmap_under_throttling(kit: Any, box: Any, rate: float) -> None:
    baseline = kit.fanout("ec2", "describe_availability_zones", REGIONS)
    box.reset_counters()
    box.set_faults(throttle_rate=rate, seed=int(rate * 100))
    start = time.monotonic()
    frame = kit.fanout("ec2", "describe_availability_zones", REGIONS, refresh=True)
    _check_fanout(frame, REGIONS, set())
    assert sorted(frame["ZoneName"]) == sorted(baseline["ZoneName"])
    items = [r for r in REGIONS for _ in range(2)]
    res = kit.pmap(lambda r: kit.call("ec2", "describe_regions", r, refresh=True)["Regions"],
                   items)
    took = time.monotonic() - start
    assert res.ok, res.errors
    assert len(res) == len(items) and all(res)
    injected = faults_injected(box)
    assert injected > 0
    assert took < 2 * job_bound(kit.settings)
    add_figure("faults_injected", injected)
    add_figure("calls_made", box.requests())


def test_server_errors_at_ten_percent(kit: Any, box: Any) -> None:
    box.set_faults(error_rate=0.1, seed=3)
    items = [r for r in REGIONS for _ in range(6)]
    res = kit.pmap(lambda r: kit.call("ec2", "describe_availability_zones", r,
                                      refresh=True)["AvailabilityZones"], items)
    assert res.ok, res.errors
    assert len(res.values) == len(items)
    injected = faults_injected(box)
    assert injected > 0
    served = box.counters_frame()
    served = served[served["operation"] == "DescribeAvailabilityZones"]
    # every request beyond one per job answered an injected error: none was repeated
    assert int(served["requests"].sum()) - int(served["errors"].sum()) == len(items)
    add_figure("faults_injected", injected)
    add_figure("calls_made", box.requests())


def test_one_region_refusing_and_one_hanging(fkit: Any, box: Any) -> None:
    refusing, hanging = "ap-southeast-1", "sa-east-1"
    box.set_faults(refusing, outage="refuse")
    box.set_faults(hanging, outage="hang")
    start = time.monotonic()
    frame = fkit.fanout("ec2", "describe_availability_zones", REGIONS, refresh=True)
    took = time.monotonic() - start
    _check_fanout(frame, REGIONS, {refusing, hanging})
    failed = {f["region"]: f for f in frame.attrs["failed"]}
    assert "timed out" in str(failed[hanging]["error"]).lower() or \
        "timeout" in str(failed[hanging]["error"]).lower()
    assert took <= job_bound(fkit.settings) + 2.0, (took, job_bound(fkit.settings))
    jobs = fkit._engine.last_results
    assert jobs is not None and set(jobs.statuses.values()) == {"done", "failed"}
    table = jobs.frame()
    bad = table[table["status"] == "failed"]
    assert len(bad) == 2 and bad["error"].notna().all() and bad["suggestion"].notna().all()
    rows = [r for r in fkit.metrics.rows("jobs") if r["status"] == "failed"]
    assert len(rows) == 2 and all(r["error"] and r["suggestion"] for r in rows)
    calls = fkit.metrics.frame("api_calls")
    attempts = calls[calls["region"].isin([refusing, hanging]) & ~calls["cache_hit"]]
    assert len(attempts) and attempts["http_status"].ne(200).all()
    # refused and hung attempts never reach the sandbox's counters: the kit's rows count them
    add_figure("faults_injected", len(attempts))
    add_figure("calls_made", len(REGIONS))


def test_a_region_that_recovers_mid_run(kit: Any, box: Any) -> None:
    import geuse_nb as gn

    region = "eu-central-1"
    box.set_faults(region, error_rate=1.0)
    with gn.Kit("recover", backend="sandbox", sandbox=box, pool_max_attempts=1,
                parallel_retry_count=6) as rkit:
        cleared: list[float] = []

        def clear_when_failing() -> None:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if faults_injected(box) >= 4:
                    break
                time.sleep(0.01)  # polling the sandbox's counter, not waiting to pass
            box.clear_faults()
            cleared.append(time.time())

        helper = threading.Thread(target=clear_when_failing, name="test-recover")
        helper.start()
        res = rkit.pmap(lambda i: rkit.call("ec2", "describe_availability_zones", region,
                                            refresh=True, Filters=[{"Name": "zone-name",
                                                                    "Values": [f"x{i}"]}]),
                        range(4), n_jobs=4)
        helper.join()
        assert res.ok, res.errors
        calls = rkit.metrics.frame("api_calls")
        ok = calls[(calls["region"] == region) & (calls["http_status"] == 200)]
        first_ok = ok["time"].min().timestamp()
        recovery = first_ok - cleared[0]
        assert recovery >= 0
        # recovery is bounded by one engine backoff step after the clear
        assert recovery <= 10.0
    add_figure("max_recovery_seconds", recovery)
    add_figure("faults_injected", faults_injected(box) or 4)
    add_figure("calls_made", 4)


def test_spot_history_under_throttling(kit: Any, box: Any) -> None:
    types = ["m5.large", "c5.large"]
    regions = REGIONS[:4]
    clean = spot.history(kit, types, regions, days=1)
    box.reset_counters()
    box.set_faults(throttle_rate=0.3, seed=11)
    noisy = spot.history(kit, types, regions, days=1, refresh=True)
    assert noisy.attrs["failed"] == []
    cols = ["region", "availability_zone", "instance_type", "price", "timestamp"]
    a = clean[cols].sort_values(cols).reset_index(drop=True)
    b = noisy[cols].sort_values(cols).reset_index(drop=True)
    assert len(b) == len(a) and a.equals(b)  # nothing lost, nothing twice
    assert not b.duplicated().any()
    add_figure("faults_injected", faults_injected(box))
    add_figure("calls_made", box.requests())


def test_rollout_under_throttling_creates_each_stack_once(kit: Any, box: Any) -> None:
    name = "rel-" + uuid.uuid4().hex[:8]
    regions = REGIONS[:5]
    box.set_faults(throttle_rate=0.3, seed=5)
    plan = rollout.plan(regions, max_concurrent=3, failure_tolerance=0)
    result = rollout.run(kit, plan, rollout.template_path(), stack_name=name, apply=True)
    frame = result.frame()
    assert sorted(frame["region"]) == sorted(regions)
    assert frame["error"].isna().all(), frame[["region", "status", "error"]]
    injected, requests = faults_injected(box), box.requests()
    box.clear_faults()
    stacks = 0
    for region in regions:
        listed = kit.call("cloudformation", "list_stacks", region, refresh=True)
        mine = [s for s in listed["StackSummaries"] if s["StackName"] == name]
        assert len(mine) == 1, (region, mine)  # created once, though throttled
        assert mine[0]["StackStatus"] == "CREATE_COMPLETE"
        stacks += len(mine)
    add_figure("faults_injected", injected)
    add_figure("calls_made", requests)
    add_figure("duplicated_requests", stacks - len(regions))
