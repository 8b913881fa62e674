"""The ``"threads"`` backend (the default, for IO-bound AWS work): kept worker pools.

``start`` borrows a pool from the ``PoolKeeper`` (``_pools.py``) and queues one task per
job: the run's attached runner, which posts its own events. The task that ends the map's
last job hands the pool back and tells the run its driver is done; no thread waits on
the map besides the caller's run loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ._backends import EngineBackend
from ._pools import PoolKeeper

if TYPE_CHECKING:
    from ._run import Run

_LARGEST_KEPT = 64  # workers; a bigger map gets a pool sized by its items, not kept as asked


class ThreadsBackend(EngineBackend):
    """Jobs on kept worker threads in this process."""

    def __init__(self) -> None:
        self._keeper = PoolKeeper()

    def start(self, run: Run, calls: Sequence[Callable[[], Any]]) -> None:
        runner = run.runner
        # A kept pool is sized as asked, not by this map's item count, so that maps of
        # different lengths share it; a map of n < size items still runs n at a time.
        size = run.pool_size if run.pool_size <= _LARGEST_KEPT else run.workers
        keeper = self._keeper
        left = len(calls)
        lock = threading.Lock()
        failed: list[BaseException] = []

        def task(index: int, call: Callable[[], Any]) -> Callable[[], None]:
            def job() -> None:
                nonlocal left
                try:
                    runner(index, call)
                except BaseException as exc:  # the runner itself broke (not the job)
                    with lock:
                        failed.append(exc)
                    run.done(exc)
                with lock:
                    left -= 1
                    last = left == 0
                if last:
                    keeper.hand_back(pool, broken=bool(failed))
                    if not failed:
                        run.done()
            return job

        pool = keeper.checkout(run, size)
        run.note_ends()  # the task that ends the last job calls run.done()
        try:
            run.keeps_threads = pool.kept
            run.on_finish(lambda: keeper.finishing(pool, run))
            if not calls:
                keeper.hand_back(pool, broken=False)
                run.done()
                return
            pool.submit([task(i, call) for i, call in enumerate(calls)])
        except BaseException:  # e.g. Ctrl-C right here: the pool must not stay checked out
            keeper.hand_back(pool, broken=True)
            raise

    def close(self) -> None:
        self._keeper.close()
