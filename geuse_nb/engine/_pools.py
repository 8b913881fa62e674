"""Kept worker pools: successive maps reuse the same threads, one map at a time.

A ``Pool`` is ``size`` daemon threads reading one ``queue.SimpleQueue`` of tasks; a task
is the run's attached runner for one job, which posts its own events. Starting and
joining a 16-thread pool was most of a small map's fixed cost, so a ``PoolKeeper`` keeps
idle pools per worker count (at most ``KEPT_POOLS``, two per size) and lends one to each
map. A map started from inside a job (nested) gets a fresh pool of its own, so it never
waits for its parent's workers; a one-worker map gets a pool that closes with it.

Why not ``joblib.Parallel`` over its threading backend, as until issue N: every job
crossed five threads there (the dispatching generator, ``ThreadPool``'s task handler,
the worker, its result handler, joblib's completion callback that dispatches the next
batch under a lock), and that cost CPU that grew with the pool: measured over a 64-call
fan-out at RTT 0 (4 operations × 16 regions, 64 workers, ``process_time``, median of 9),
216 µs per job on top of a plain ``ThreadPoolExecutor``'s, 0.17 of a bare boto3 call;
a ``ThreadPoolExecutor`` under joblib's backend still cost 173 µs. Here a job crosses
one queue to its worker and one (the run's events) back, as in the executor users write
by hand; the workers are daemon threads (a hung AWS call must not hold interpreter exit,
which an executor's non-daemon workers would) named ``geuse-pool{size}-{n}`` and tracked
from the moment they start, so ``Engine.close()`` joins them all. joblib still runs the
``processes`` (loky) and ``dask`` backends and chooses the backend through
``parallel_config``.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._runner import nested

if TYPE_CHECKING:
    from ._run import Run

KEPT_POOLS = 4  # idle pools a keeper holds open between maps (≤ 2 per worker count)
_POOL_WAIT = 1.0  # s a map waits for the previous map's pool to be handed back
_STOP = None  # the task that tells one worker to exit

Task = Callable[[], None]


class Pool:
    """``size`` kept worker threads fed by one queue; runs one map at a time.

    ``kept`` pools go back to the keeper after a map and serve later ones; the others
    (nested maps, one worker) are closed when their map's last job ends. Workers start
    as tasks need them (a map of n < size items starts n), and each is reported to
    ``on_thread`` before it starts.
    """

    _numbers = itertools.count(1)

    def __init__(self, size: int, kept: bool,
                 on_thread: Callable[[threading.Thread], None]) -> None:
        self.size = size
        self.kept = kept
        self.on_thread = on_thread
        self.finishing = False  # its map has returned; the driver is handing it back
        self.owner: Run | None = None  # the run it is checked out to
        self._tasks: queue.SimpleQueue[Task | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._name = f"geuse-pool{size}-{next(self._numbers)}"

    def submit(self, tasks: list[Task]) -> None:
        """Queue ``tasks`` (one map's), starting the workers they need first."""
        for _ in range(min(self.size, len(tasks)) - len(self._workers)):
            thread = threading.Thread(target=self._work, daemon=True,
                                      name=f"{self._name}-{len(self._workers) + 1}")
            self.on_thread(thread)
            self._workers.append(thread)
            thread.start()
        put = self._tasks.put
        for task in tasks:
            put(task)

    def _work(self) -> None:
        get = self._tasks.get
        while (task := get()) is not _STOP:
            task()

    def close(self) -> None:
        """Stop the worker threads (each exits once idle; the Engine joins them)."""
        for _ in self._workers:
            self._tasks.put(_STOP)


class PoolKeeper:
    """Lends pools to maps and keeps the idle ones, least recently used first."""

    def __init__(self) -> None:
        self._handed_back = threading.Condition(threading.Lock())
        self._idle: list[Pool] = []
        self._busy: set[Pool] = set()
        self._closed = False

    def checkout(self, run: Run, size: int) -> Pool:
        """A pool of ``size`` workers for ``run``: an idle kept one, else a new one.

        A nested map (called from inside a job) and a one-worker map get a pool of their
        own, closed when the map ends. A pool comes back just after its map's last job
        posted its outcome, so the map may return first and the next one take a second
        pool of the size; with two busy, a map waits for one whose map has returned.
        """
        if size < 2 or nested():
            return Pool(size, False, run.adopt)
        deadline = time.monotonic() + _POOL_WAIT
        with self._handed_back:
            while True:
                for pool in reversed(self._idle):
                    if pool.size == size:
                        self._idle.remove(pool)
                        break
                else:
                    busy = [p for p in self._busy if p.size == size]
                    left = deadline - time.monotonic()
                    if len(busy) >= 2 and left > 0 and any(p.finishing for p in busy):
                        self._handed_back.wait(left)
                        continue
                    pool = Pool(size, True, run.track)
                pool.finishing, pool.owner = False, run
                self._busy.add(pool)
                return pool

    def finishing(self, pool: Pool, run: Run) -> None:
        """``run`` has returned: its pool comes back soon unless a job still holds a worker."""
        if pool.kept and not run.zombies:
            with self._handed_back:
                if pool in self._busy and pool.owner is run:  # not yet back, nor reused
                    pool.finishing = True

    def hand_back(self, pool: Pool, *, broken: bool) -> None:
        """Keep ``pool`` for the next map (at most ``KEPT_POOLS``, 2 per size) or close it."""
        doomed = []
        with self._handed_back:
            self._busy.discard(pool)
            pool.finishing, pool.owner = False, None
            if pool.kept and not broken and not self._closed:
                self._idle.append(pool)
                same = [p for p in self._idle if p.size == pool.size]
                doomed = same[:-2]
                doomed += [p for p in self._idle if p not in doomed][:-KEPT_POOLS]
                self._idle = [p for p in self._idle if p not in doomed]
            else:
                doomed = [pool]
            self._handed_back.notify_all()
        for dead in doomed:
            dead.close()

    def close(self) -> None:
        """Close the idle pools; a pool busy with a map is closed by its driver when done."""
        with self._handed_back:
            self._closed = True
            idle, self._idle = self._idle, []
        for pool in idle:
            pool.close()
