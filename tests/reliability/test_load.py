"""Load: 10 000 cached calls from 16 threads; 2 000 uncached calls with 30 % throttling;
4 processes sharing one cache dir. No error, and the counts are exact: every call is one
row in ``api_calls``, every answered request is one call. Marked ``slow``."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from reliability_figures import add_figure, faults_injected

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def _resource_tracker() -> None:
    """multiprocessing's resource tracker lives as long as this process once started (by
    the spawn context): start it before the leak guard's snapshot; it is not a worker."""
    import multiprocessing.resource_tracker

    multiprocessing.resource_tracker.ensure_running()
REGIONS = ["us-east-1", "eu-west-1", "us-west-2", "ap-southeast-1", "eu-central-1",
           "ap-northeast-1", "sa-east-1", "ca-central-1"]


def test_ten_thousand_cached_calls_from_sixteen_threads(kit: Any, box: Any) -> None:
    threads, per_thread = 16, 625
    for region in REGIONS:
        kit.call("ec2", "describe_availability_zones", region)
    box.reset_counters()
    kit.metrics.reset()
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def work(offset: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            try:
                kit.call("ec2", "describe_availability_zones", REGIONS[(offset + i) % 8])
            except Exception as exc:  # collected: the assertion below names it
                errors.append(exc)

    pool = [threading.Thread(target=work, args=(n,), name=f"test-load-{n}")
            for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not errors, errors[:3]
    calls = kit.metrics.frame("api_calls")
    assert len(calls) == threads * per_thread and calls["cache_hit"].all()
    assert box.requests() == 0
    add_figure("calls_made", threads * per_thread)


def test_two_thousand_uncached_calls_with_throttling(kit: Any, box: Any) -> None:
    n = 2000
    box.set_faults(throttle_rate=0.3, seed=99)
    kit.metrics.reset()
    res = kit.pmap(lambda i: kit.call("ec2", "describe_regions", REGIONS[i % 8],
                                      refresh=True)["Regions"], range(n), n_jobs=32)
    assert res.ok, list(res.errors.items())[:3]
    assert len(res.values) == n and all(res)
    served = box.counters_frame()
    served = served[served["operation"] == "DescribeRegions"]
    answered = int(served["requests"].sum() - served["throttled"].sum()
                   - served["errors"].sum())
    assert answered == n  # one answered request per call: none lost, none twice
    calls = kit.metrics.frame("api_calls")
    assert int((calls["http_status"] == 200).sum()) == n
    injected = faults_injected(box)
    assert injected > 0.2 * n
    add_figure("faults_injected", injected)
    add_figure("calls_made", n)
    add_figure("duplicated_requests", answered - n)
    add_figure("results_lost", n - len(res.values))


def test_four_processes_share_one_cache_dir(box: Any, tmp_path: Path) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from reliability_workers import shared_dir_worker

    rounds, procs = 25, 4
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(procs, mp_context=context) as pool:
        futures = [pool.submit(shared_dir_worker, box.url, str(tmp_path), REGIONS, rounds)
                   for _ in range(procs)]
        results = [f.result(timeout=240) for f in futures]
    per_process = 4 * rounds * len(REGIONS)
    for got in results:
        assert got["errors"] == []
        assert got["rows"] == per_process  # every call one row: a hit or an answered miss
        for region in REGIONS:
            assert len(got["answers"][region]) == 1  # one answer, the same everywhere
    assert len({str(r["answers"]) for r in results}) == 1
    sent = sum(r["sent"] for r in results)
    assert sent == box.requests()  # each request the sandbox served is one row somewhere
    assert len(REGIONS) <= sent <= procs * len(REGIONS)  # ≤ one miss per key per process
    add_figure("calls_made", procs * per_process)
    add_figure("duplicated_requests", 0 if sent <= procs * len(REGIONS) else sent)
