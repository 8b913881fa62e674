"""The ``"threads"`` backend (the default, for IO-bound AWS work): kept joblib thread pools.

A driver thread runs ``joblib.Parallel(return_as="generator_unordered")`` over the jobs
on a pool lent by the ``PoolKeeper`` (``_pools.py``); each task is the run's attached
runner, which posts its own events, so the driver only keeps the generator moving and
hands the pool back when joblib is done with it.
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
    """Jobs on joblib worker threads in this process; pools kept between maps."""

    def __init__(self) -> None:
        self._keeper = PoolKeeper()

    def start(self, run: Run, calls: Sequence[Callable[[], Any]]) -> None:
        from joblib import delayed

        runner = run.runner
        tasks = (delayed(runner)(i, call) for i, call in enumerate(calls))
        # A kept pool is sized as asked, not by this map's item count, so that maps of
        # different lengths share it; a map of n < size items still runs n at a time.
        size = run.pool_size if run.pool_size <= _LARGEST_KEPT else run.workers
        keeper = self._keeper

        def drive() -> None:
            broken = False
            error: BaseException | None = None
            try:
                for _ in pool.open()(tasks):
                    pass  # the runners post their outcomes themselves
            except BaseException as exc:
                broken = True  # joblib aborted: do not hand this pool to another map
                error = exc
            finally:
                run.done(error)
                keeper.hand_back(pool, broken=broken)

        pool = keeper.checkout(run, size)
        try:
            run.keeps_threads = pool.kept
            run.on_finish(lambda: keeper.finishing(pool, run))
            thread = threading.Thread(target=drive, name=f"geuse-pmap-{run.name}",
                                      daemon=True)
            run.adopt(thread)
            thread.start()
        except BaseException:  # e.g. Ctrl-C right here: the pool must not stay checked out
            keeper.hand_back(pool, broken=True)
            raise

    def close(self) -> None:
        self._keeper.close()
