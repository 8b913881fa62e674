"""Single-flight across processes (``cache/_xflight.py``): processes sharing a cache_dir
wait for one another's in-flight miss of a key; the sandbox's request counter is the
proof. A holder killed mid-request blocks the others only until its lock lapses, or until
their wait times out, whichever comes first."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from reliability_figures import add_figure
from xflight_workers import OPERATION, hold_forever, miss_together

from geuse_nb.cache._xflight import CrossProcessFlight

REGION = "ap-south-1"
PROCESSES = 4
THREADS = 4


@pytest.fixture(scope="module", autouse=True)
def _resource_tracker() -> None:
    """multiprocessing's resource tracker lives as long as this process once started (by
    the spawn context): start it before the leak guard's snapshot; it is not a worker."""
    import multiprocessing.resource_tracker

    multiprocessing.resource_tracker.ensure_running()


def _requests(box: Any) -> int:
    frame = box.counters_frame()
    return int(frame.loc[(frame["operation"] == "DescribeAvailabilityZones")
                         & (frame["region"] == REGION), "requests"].sum())


def test_four_processes_four_threads_one_key_one_request(box: Any, tmp_path: Path) -> None:
    box.set_network(rtt=0.3, region=REGION)
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PROCESSES)
    out = context.SimpleQueue()
    procs = [context.Process(target=miss_together,
                             args=(box.url, str(tmp_path), REGION, THREADS, start, out))
             for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert [r["errors"] for r in results] == [[]] * PROCESSES
    answers = {a for r in results for a in r["answers"]}
    assert len(answers) == 1 and sum(len(r["answers"]) for r in results) == 16
    assert _requests(box) == 1  # 16 misses of one key in 4 processes: one request
    assert sum(r["sent"] for r in results) == 1
    assert sum(r["waited"] for r in results) >= 1  # someone waited on another process
    add_figure("xprocess_calls_made", PROCESSES * THREADS)
    add_figure("xprocess_duplicated_requests", _requests(box) - 1)


def _held_keys(cache_dir: Path) -> list[str]:
    handle = CrossProcessFlight(cache_dir)._handle()
    assert handle is not None
    try:
        return [k for k in handle.iterkeys()
                if str(k).startswith("lock:") and handle.get(k) is not None]  # not lapsed
    finally:
        handle.close()


def _killed_holder(box: Any, cache_dir: Path, expire: float) -> None:
    """A process takes the key's lock (``expire`` s), sends, and is SIGKILLed while its
    request is in flight; the lock stays behind."""
    box.set_network(rtt=20.0, region=REGION)  # the holder's request is still out when killed
    context = multiprocessing.get_context("spawn")
    holder = context.Process(target=hold_forever, args=(box.url, str(cache_dir), REGION, expire))
    holder.start()
    deadline = time.monotonic() + 60
    while not _held_keys(cache_dir):  # wait for the condition (the lock is taken)
        assert holder.is_alive() and time.monotonic() < deadline, "the holder never locked"
        time.sleep(0.05)
    assert holder.pid is not None
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(30)
    assert holder.exitcode == -signal.SIGKILL
    assert _held_keys(cache_dir)  # nobody released it
    box.set_network(rtt=0.05, region=REGION)


def _four_threads(kit: Any) -> tuple[list[Any], float]:
    got: list[Any] = [None] * THREADS
    barrier = threading.Barrier(THREADS)

    def one(i: int) -> None:
        barrier.wait()
        got[i] = kit.call(*OPERATION, REGION)

    began = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return got, time.monotonic() - began


@pytest.mark.parametrize(("expire", "timeout"), [(60.0, 2.0), (4.0, 60.0)],
                         ids=["wait-times-out", "lock-lapses"])
def test_killed_holder_blocks_others_only_until_timeout_or_lapse(
        box: Any, tmp_path: Path, expire: float, timeout: float) -> None:
    import geuse_nb as gn

    _killed_holder(box, tmp_path, expire)
    with gn.Kit("xflight-waiter", backend="sandbox", sandbox=box,
                cache_dir=str(tmp_path)) as kit:
        kit.cache.xflight.timeout = timeout
        got, took = _four_threads(kit)
        assert all(g is got[0] for g in got) and got[0]["AvailabilityZones"]
        bound = min(expire, timeout)
        # waited for the dead holder (the in-process leader alone asked the lock) ...
        assert kit.cache.xflight.waited == 1
        assert kit.cache.xflight.timed_out == (1 if timeout < expire else 0)
        # ... but not past the bound: the wait, one poll interval and one request
        assert took < bound + 5.0, took
        calls = kit.metrics.frame("api_calls")
        assert (~calls["cache_hit"]).sum() == 1  # the waiter sent for itself, once
    # the waiter's, and the dead holder's if the sandbox counted it before the kill
    assert 1 <= _requests(box) <= 2
    add_figure(f"killed_holder_wait_s_{'timeout' if timeout < expire else 'lapse'}",
               round(took, 2))


def test_waiters_fetch_side_by_side_when_the_holder_left_nothing(tmp_path: Path) -> None:
    """Three caches on one directory stand for three processes. The holder fails (nothing
    reaches the disk): its two waiters do not queue behind each other's fetch, they fetch
    at once, as without the lock (a barrier of two that their fetches must both reach)."""
    from geuse_nb.cache.tiered import TieredCache
    from geuse_nb.config import resolve_settings

    settings = resolve_settings(cache_dir=str(tmp_path))
    holder, *waiters = caches = [TieredCache(settings) for _ in range(3)]
    holding, go = threading.Event(), threading.Event()
    side_by_side = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def fail() -> Any:
        holding.set()
        go.wait(30)
        raise RuntimeError("throttled")

    def fetch() -> Any:
        side_by_side.wait()  # broken (an error) if the other waiter is still queued
        return "fetched"

    def run(cache: TieredCache, fn: Any) -> None:
        try:
            cache.single_flight("k", fn)
        except BaseException as exc:  # the result under test
            errors.append(exc)

    first = threading.Thread(target=run, args=(holder, fail))
    first.start()
    assert holding.wait(30)
    rest = [threading.Thread(target=run, args=(c, fetch)) for c in waiters]
    for t in rest:
        t.start()
    deadline = time.monotonic() + 30
    while not all(c.xflight is not None and c.xflight.waited for c in waiters):
        assert time.monotonic() < deadline, "the waiters never found the key locked"
        time.sleep(0.01)  # wait for the condition: both are waiting on the holder
    go.set()
    for t in [first, *rest]:
        t.join(60)
    assert [type(e).__name__ for e in errors] == ["RuntimeError"], errors
    for cache in caches:
        cache.close()
