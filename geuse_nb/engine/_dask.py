"""The ``"dask"`` backend: jobs on the current dask.distributed client, through joblib.

Selected by ``pmap(backend="dask")`` or an enclosing ``joblib.parallel_config("dask")``.
Tasks are the run's picklable ``remote_runner`` and the user's function, pickled by
reference, so keep functions (and whatever builds clients) in an importable module, not
in ``__main__``. There the timeout is enforced inside the worker (the attempt runs in a
daemon thread there); cancellation stops waiting and marks jobs ``"cancelled"``, and
joblib cancels the pending futures. Dask is imported only when a map uses it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import MissingDependencyError
from ._backends import EngineBackend
from ._remote import drive_remote

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
        from joblib import Parallel, parallel_config

        def make() -> Parallel:
            # Parallel is built in the driving thread, outside any parallel_config of the
            # caller's thread: the caller's context was already resolved into run.workers.
            with parallel_config(backend="dask"):  # registers joblib's dask backend
                return Parallel(n_jobs=run.workers, return_as="generator_unordered")

        drive_remote(run, calls, make)
