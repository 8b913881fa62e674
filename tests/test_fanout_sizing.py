"""Fan-outs sized by their requests: every job at once up to the per-endpoint and global
caps; an explicit n_jobs still wins; pageable reads are one request per page."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import psutil
import pytest

import geuse_nb as gn
from geuse_nb.aws.fanout import in_flight
from geuse_nb.config import resolve_settings


def test_in_flight_counts_every_job_up_to_the_caps() -> None:
    s = resolve_settings(pool_max_connections=10, parallel_max_in_flight=64)
    assert in_flight([("ec2", f"r{i}") for i in range(16)] * 4, s) == 64  # 4 per region
    assert in_flight([("ec2", "r1")] * 30, s) == 10  # one endpoint: its pool's cap
    assert in_flight([("ec2", "r1")] * 30 + [("ec2", "r2")] * 3, s) == 13
    assert in_flight([("ec2", f"r{i}") for i in range(17)] * 10, s) == 64  # global cap
    assert in_flight([("ec2", "r1")], s) == 1


def _concurrency(kit: Any, label: str, n: int) -> int:
    """The most of the latest map's ``n`` jobs that ran at the same time (jobs table)."""
    jobs = kit.metrics.frame("jobs")
    jobs = jobs[jobs["map"] == label].tail(n)
    points = sorted([(t, 1) for t in jobs["started"]] + [(t, -1) for t in jobs["ended"]],
                    key=lambda p: (p[0], p[1]))
    best = now = 0
    for _, step in points:
        now += step
        best = max(best, now)
    return best


def test_default_fanout_sends_every_request_at_once_and_n_jobs_still_wins(
        sandbox: Any, tmp_path: Any) -> None:
    sandbox.set_network(rtt=0.3)  # the jobs overlap: connections for all 24 open
    try:
        with gn.Kit("sizing", backend="sandbox", sandbox=sandbox, cache_dir=tmp_path) as kit:
            regions = list(sandbox.regions[:8])
            ops = ["describe_vpcs", "describe_subnets", "describe_security_groups"]
            kit.fanout("ec2", ops, regions)  # clients and connections
            kit.cache.clear()
            # 1 s: under `make quick`'s load the 24 starts once spread over more than 0.3 s
            sandbox.set_network(rtt=1.0)
            frame = kit.fanout("ec2", ops, regions)
            assert not frame.attrs["failed"]
            assert _concurrency(kit, "ec2.describe_vpcs +2", 24) == 24  # 3 per region, 24 jobs
            kit.cache.clear()
            sandbox.set_network(rtt=0.1)  # 24 at once would overlap far beyond 4
            kit.fanout("ec2", ops, regions, n_jobs=4)
            assert _concurrency(kit, "ec2.describe_vpcs +2", 24) <= 4
    finally:
        sandbox.set_network(rtt=0.0)


def test_a_fanout_looks_up_every_job_once_in_the_calling_thread(
        kit: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys and lookups happen before the map, in the caller's thread, one per job; a job
    only answers its miss (one request each), and a second fan-out is all hits."""
    from geuse_nb.cache.tiered import TieredCache

    seen: list[tuple[str, int]] = []
    real = TieredCache.lookup

    def spy(self: TieredCache, key: str, **kw: Any) -> Any:
        seen.append((key, threading.get_ident()))
        return real(self, key, **kw)

    monkeypatch.setattr(TieredCache, "lookup", spy)
    regions = list(kit.sandbox.regions[:4])
    ops = ["describe_vpcs", "describe_subnets"]
    before = kit.sandbox.requests()
    cold = kit.fanout("ec2", ops, regions, n_jobs=8)
    assert not cold.attrs["failed"]
    assert kit.sandbox.requests() - before == len(ops) * len(regions)
    assert len(seen) == len({k for k, _ in seen}) == len(ops) * len(regions)
    assert {ident for _, ident in seen} == {threading.get_ident()}
    seen.clear()
    before = kit.sandbox.requests()
    warm = kit.fanout("ec2", ops, regions, n_jobs=8)
    assert kit.sandbox.requests() == before and warm.equals(cold)
    assert len(seen) == len(ops) * len(regions)


def test_a_one_page_read_is_one_request_and_many_pages_still_merge(kit: Any) -> None:
    end = dt.datetime.now(dt.UTC)
    params = {"InstanceTypes": ["m5.large", "c5.large"], "StartTime": end - dt.timedelta(days=7),
              "EndTime": end}
    box = kit.sandbox
    before = box.requests()
    one = kit.call("ec2", "describe_spot_price_history", "us-east-1", MaxResults=1000,
                   InstanceTypes=["m5.large"], StartTime=params["StartTime"], EndTime=end)
    assert box.requests() - before == 1 and "NextToken" not in one
    before = box.requests()
    merged = kit.call("ec2", "describe_spot_price_history", "us-east-1", MaxResults=300,
                      **params)
    sent = box.requests() - before
    rows = merged["SpotPriceHistory"]
    pages = kit.client("ec2", "us-east-1").get_paginator("describe_spot_price_history")
    expected = [r for p in pages.paginate(MaxResults=300, **params) for r in p["SpotPriceHistory"]]
    assert rows == expected and len(rows) > 1000 and "NextToken" not in merged
    assert sent == -(-len(rows) // 300)  # one request per page, none repeated


@pytest.mark.slow
def test_a_4096_call_fanout_stays_bounded_in_memory_and_threads(sandbox: Any,
                                                                tmp_path: Any) -> None:
    """Over 4,096 calls (the ec2 reads that take MaxResults × 16 regions × 22 values of it)
    at RTT 20 ms with default settings: peak RSS grows ≤ 300 MB and no thread is left."""
    from geuse_nb.face.bench.fanout import MORE_OPERATIONS

    sandbox.set_network(rtt=0.02)
    me = psutil.Process()
    threads_before = set(threading.enumerate())
    try:
        with gn.Kit("big", backend="sandbox", sandbox=sandbox, cache_dir=tmp_path) as kit:
            regions = list(sandbox.regions[:16])
            sets = [{"MaxResults": 5 + i} for i in range(22)]
            ops = list(MORE_OPERATIONS)
            ops = [o for o in ops if "MaxResults" in kit._calls.resolve("ec2", o)[1].members]
            assert len(ops) * len(regions) * len(sets) >= 4096
            base = me.memory_info().rss
            peak = base
            done = threading.Event()

            def watch() -> None:
                nonlocal peak
                while not done.wait(0.05):
                    peak = max(peak, me.memory_info().rss)

            watcher = threading.Thread(target=watch)
            watcher.start()
            try:
                frame = kit.fanout("ec2", ops, regions, param_sets=sets)
            finally:
                done.set()
                watcher.join()
            calls = len(ops) * len(regions) * len(sets)
            assert not frame.attrs["failed"], frame.attrs["failed"][:3]
            print(f"\n{calls} calls, peak RSS growth {(peak - base) / 2**20:.0f} MB")
            assert peak - base <= 300 * 2**20
    finally:
        sandbox.set_network(rtt=0.0)
    for thread in set(threading.enumerate()) - threads_before:
        thread.join(5)
    assert not [t for t in set(threading.enumerate()) - threads_before if t.is_alive()]
