"""Kept worker pools: maps reuse the pool's threads, nested maps get their own, close joins them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from geuse_nb.aws.errors import is_retryable, suggestion_for
from geuse_nb.config import resolve_settings
from geuse_nb.engine.parallel import Engine
from geuse_nb.observe.metrics import Recorder
from geuse_nb.observe.progress import Progress


@pytest.fixture()
def engine() -> Iterator[Engine]:
    settings = resolve_settings(progress_quiet=True)
    eng = Engine(settings, progress=Progress(settings), recorder=Recorder(settings),
                 retry_if=is_retryable, suggest=suggestion_for)
    yield eng
    eng.close()


def all_workers_map(engine: Engine, n: int) -> set[threading.Thread]:
    """Run n jobs on n workers that all wait for each other, so every worker of the pool
    runs exactly one job; return the threads they ran on."""
    barrier = threading.Barrier(n, timeout=5)

    def job(_: int) -> threading.Thread:
        barrier.wait()
        return threading.current_thread()

    results = engine.pmap(job, range(n), n_jobs=n)
    assert results.ok, results.errors
    return set(results)


def pool_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("geuse-pool")}


def test_consecutive_maps_reuse_the_workers(engine: Engine) -> None:
    # Back-to-back maps may alternate between two pools (a pool comes back a few ms after
    # its map returns), so maps 3-5 must run on threads that maps 1-2 already used.
    first = all_workers_map(engine, 4) | all_workers_map(engine, 4)
    later = set().union(*(all_workers_map(engine, 4) for _ in range(3)))
    assert len(first) <= 8
    assert later <= first
    assert all(t.is_alive() for t in first)  # kept between maps, not joined


def test_maps_of_fewer_items_share_the_pool_and_keep_their_width(engine: Engine) -> None:
    seen = all_workers_map(engine, 4) | all_workers_map(engine, 4)
    active = peak = 0
    lock = threading.Lock()

    def job(_: int) -> threading.Thread:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        with lock:
            active -= 1
        return threading.current_thread()

    for n in (2, 3):  # a 4-worker pool serves maps of 2 and 3 items
        results = engine.pmap(job, range(n), n_jobs=4)
        assert results.ok and set(results) <= seen
    assert peak <= 3


def test_nested_map_in_a_job_completes_on_its_own_pool(engine: Engine) -> None:
    outer_threads: set[threading.Thread] = set()
    lock = threading.Lock()

    def inner(x: int) -> tuple[int, threading.Thread]:
        return x * x, threading.current_thread()

    def outer(x: int) -> list[tuple[int, threading.Thread]]:
        with lock:
            outer_threads.add(threading.current_thread())
        # same width as the outer map: on the outer pool this would wait for itself
        return list(engine.pmap(inner, range(4), n_jobs=2, timeout=10))

    results = engine.pmap(outer, range(2), n_jobs=2, timeout=20)
    assert results.ok, results.errors
    assert [[v for v, _ in r] for r in results] == [[0, 1, 4, 9]] * 2
    inner_threads = {t for r in results for _, t in r}
    assert not inner_threads & outer_threads
    assert not any(t.is_alive() for t in inner_threads)  # a nested pool is joined at its end
    assert all(t.is_alive() for t in outer_threads)  # the outer pool is kept


def test_a_map_does_not_get_workers_held_by_a_cancelled_one(engine: Engine) -> None:
    gate = threading.Event()
    timer = threading.Timer(0.3, engine.cancel)
    timer.start()
    try:
        cancelled = engine.pmap(lambda _: gate.wait(10), range(2), n_jobs=2)
        assert cancelled.cancelled and set(cancelled.statuses.values()) == {"cancelled"}
        # both workers of that pool are still inside gate.wait: this map needs two others
        assert len(all_workers_map(engine, 2)) == 2
    finally:
        gate.set()
        timer.join()


def test_close_stops_and_joins_the_kept_workers(engine: Engine) -> None:
    used = all_workers_map(engine, 4) | all_workers_map(engine, 3)
    assert used <= pool_threads()
    engine.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("geuse")]


def test_close_during_a_map_stops_its_pool_when_the_map_ends(engine: Engine) -> None:
    started = threading.Event()
    closer: dict[str, Any] = {}

    def job(x: int) -> int:
        started.set()
        return x

    def close_soon() -> None:
        started.wait(5)
        engine.close()
        closer["done"] = True

    thread = threading.Thread(target=close_soon)
    thread.start()
    engine.pmap(job, range(50), n_jobs=4)
    thread.join(10)
    assert closer.get("done")
    assert not [t for t in threading.enumerate() if t.name.startswith("geuse")]
