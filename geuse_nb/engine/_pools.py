"""Kept joblib thread pools: successive maps reuse open ``Parallel`` objects' threads.

A ``joblib.Parallel`` used as a context manager keeps its workers between calls
(joblib's documented worker reuse). Starting and joining a 16-thread pool was most of a
small map's fixed cost, so a ``PoolKeeper`` keeps idle pools per worker count (at most
``KEPT_POOLS``, two per size) and lends one to each map. One map at a time uses a given
pool; a map started from inside a job (nested) gets a fresh pool of its own, so it
never waits for its parent's workers; a one-worker map runs in joblib's sequential
backend and keeps nothing.

Why override joblib's *private* ``ThreadingBackend._get_pool``: the Engine must join a
kept pool's threads at ``close()``, including workers that never ran a job, and name
them (thread dumps, the leak guard of the tests). joblib offers no public hook for the
pool's ``initializer``; ``_get_pool`` is the lazy constructor that
``PoolManagerMixin.submit`` calls (three lines in joblib 1.6.0, the venv's).
``_NamedThreadingBackend`` repeats those lines with an initializer added. Should a joblib
release rename it, maps would still run (joblib's own pool starts) but the workers would
go unnamed and unjoined; ``tests/test_parallel_reuse.py`` finds pools by those names, so
it would fail rather than let that pass unnoticed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from multiprocessing.pool import ThreadPool
from typing import TYPE_CHECKING, Any

from joblib.parallel import ThreadingBackend

from ._runner import nested

if TYPE_CHECKING:
    from ._run import Run

KEPT_POOLS = 4  # idle joblib pools a keeper holds open between maps (≤ 2 per worker count)
_POOL_WAIT = 1.0  # s a map waits for the previous map's pool to be handed back


class _NamedThreadingBackend(ThreadingBackend):
    """joblib's threading backend whose pool names its workers and reports each one."""

    _pool: ThreadPool | None

    def __init__(self, name: str, on_thread: Callable[[threading.Thread], None],
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._name = name
        self._on_thread = on_thread
        self._count = 0
        self._count_lock = threading.Lock()

    def _get_pool(self) -> ThreadPool:
        if self._pool is None:  # same lazy start as ThreadingBackend, plus an initializer
            self._pool = ThreadPool(self._n_jobs, initializer=self._started)
        return self._pool

    def _started(self) -> None:
        thread = threading.current_thread()
        with self._count_lock:
            self._count += 1
            thread.name = f"{self._name}-{self._count}"
        self._on_thread(thread)


class Pool:
    """One open ``joblib.Parallel`` over ``size`` worker threads; runs one map at a time.

    ``kept`` pools go back to the keeper after a map and serve later ones; the others
    (nested maps, one worker) are closed by their driver when the map ends.
    """

    def __init__(self, size: int, kept: bool,
                 on_thread: Callable[[threading.Thread], None]) -> None:
        self.size = size
        self.kept = kept
        self.on_thread = on_thread
        self.finishing = False  # its map has returned; the driver is handing it back
        self.owner: Run | None = None  # the run it is checked out to
        self.parallel: Any = None

    def open(self) -> Any:
        """The ``Parallel`` object, built on first use (in a driver thread, so that the
        caller's ``parallel_config`` is not baked into a pool that outlives the call)."""
        if self.parallel is None:
            from joblib import Parallel

            backend = _NamedThreadingBackend(f"geuse-pool{self.size}", self.on_thread)
            parallel = Parallel(n_jobs=self.size, backend=backend,
                                return_as="generator_unordered", batch_size=1)
            parallel.__enter__()
            self.parallel = parallel
        return self.parallel

    def close(self) -> None:
        """Stop the worker threads (they exit once idle; the Engine joins them)."""
        parallel, self.parallel = self.parallel, None
        if parallel is not None:
            parallel.__exit__(None, None, None)


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
        own, closed when the map ends. A pool comes back up to 10 ms after its map returned
        (joblib's result loop polls every 10 ms), so back-to-back maps alternate between two
        pools of a size; with two busy, a map waits for one whose map has returned.
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
