"""The ``"dask"`` backend: jobs on the current dask.distributed client, through joblib.

Selected by ``pmap(backend="dask")`` or an enclosing ``joblib.parallel_config("dask")``.
Tasks are the run's picklable ``remote_runner`` and the user's function, pickled by
reference, so keep functions (and whatever builds clients) in an importable module, not
in ``__main__``. There the timeout is enforced inside the worker (the attempt runs in a
daemon thread there); cancellation stops waiting and marks jobs ``"cancelled"``, and
joblib cancels the pending futures. Dask is imported only when a map uses it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import MissingDependencyError
from ._backends import EngineBackend

if TYPE_CHECKING:
    from ._run import Run


class DaskBackend(EngineBackend):
    """Jobs as dask.distributed futures, driven by ``joblib.Parallel`` from one thread."""

    joblib_backend = "DaskDistributedBackend"

    def check(self) -> None:
        try:
            import dask  # noqa: F401
            import distributed  # noqa: F401
        except ImportError:
            raise MissingDependencyError("dask", "dask") from None

    def start(self, run: Run, calls: Sequence[Callable[[], Any]]) -> None:
        from joblib import Parallel, delayed, parallel_config

        runner = run.remote_runner
        tasks = (delayed(runner)(i, call) for i, call in enumerate(calls))

        def drive() -> None:
            # Parallel is built here, outside any parallel_config of the caller's thread:
            # the caller's context was already resolved into ``run.workers``.
            error: BaseException | None = None
            try:
                with parallel_config(backend="dask"):  # registers joblib's dask backend
                    parallel = Parallel(n_jobs=run.workers, return_as="generator_unordered")
                for out in parallel(tasks):
                    if out is not None:
                        run.report(out)
                    if run.cancel.is_set():
                        break  # joblib cancels the pending dask futures
            except BaseException as exc:
                error = exc
            finally:
                run.done(error)

        thread = threading.Thread(target=drive, name=f"geuse-pmap-{run.name}", daemon=True)
        run.adopt(thread)
        thread.start()
