"""Drive jobs that run in other processes (Dask, loky) from one thread of this one.

Both remote backends hand ``joblib.Parallel`` the run's remote runner and report each
outcome as it arrives (``generator_unordered``); only how the ``Parallel`` is made differs,
so that is the one thing a backend passes in.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from joblib import Parallel

    from ._run import Run


def drive_remote(run: Run, calls: Sequence[Callable[[], Any]],
                 make_parallel: Callable[[], Parallel]) -> None:
    """Start a thread that runs ``calls`` through ``make_parallel()`` and reports to ``run``.
    A cancelled run stops reading; joblib then cancels the pending tasks."""
    from joblib import delayed

    runner = run.remote_runner
    tasks = (delayed(runner)(i, call) for i, call in enumerate(calls))

    def drive() -> None:
        error: BaseException | None = None
        try:
            parallel = make_parallel()
            for out in parallel(tasks):
                if out is not None:
                    run.report(out)
                if run.cancel.is_set():
                    break
        except BaseException as exc:
            error = exc
        finally:
            run.done(error)

    thread = threading.Thread(target=drive, name=f"geuse-pmap-{run.name}", daemon=True)
    run.adopt(thread)
    thread.start()
