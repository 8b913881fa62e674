"""The ``"processes"`` backend: jobs in joblib's loky process workers.

For CPU-bound work on a notebook's data (parsing, pandas over large responses) where
threads would hold the GIL. ``pmap(fn, items, backend="processes")``; jobs are the run's
picklable ``remote_runner`` and the user's function (cloudpickled by loky, so a lambda
works). As on Dask, the timeout is enforced inside the worker and a kit passed to a job
arrives there as a kit of its own (``Kit.__reduce__``) whose metrics rows come home
with the job's outcome (``observe.metrics.worker_rows``), so the notebook's recorder
and report see the worker's API calls, jobs and timers once each.

An enclosing ``joblib.parallel_config("loky")`` does not select it (``joblib_backend``
is None): turning a notebook's threads into processes must be asked for by name.
``close()`` (the Engine's) shuts loky's reusable executor down, so no worker process
outlives the kit; a map started after that starts a new one (~0.5 s for 2 workers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ._backends import EngineBackend
from ._remote import drive_remote

if TYPE_CHECKING:
    from ._run import Run


class ProcessBackend(EngineBackend):
    """Jobs in loky worker processes, driven by ``joblib.Parallel`` from one thread."""

    def __init__(self) -> None:
        self._used = False

    def start(self, run: Run, calls: Sequence[Callable[[], Any]]) -> None:
        from joblib import Parallel

        self._used = True
        drive_remote(run, calls, lambda: Parallel(n_jobs=run.workers, backend="loky",
                                                  return_as="generator_unordered"))

    def close(self) -> None:
        """Stop loky's reusable executor and its worker processes. Read from loky's module
        global (``reusable_executor._executor``, private): ``get_reusable_executor()``
        would start (or resize) an executor just to stop it."""
        if self._used:
            from joblib.externals.loky import reusable_executor

            executor = getattr(reusable_executor, "_executor", None)
            if executor is not None:
                executor.shutdown(wait=True, kill_workers=True)
            self._used = False
