"""The engine's knobs, checked: retry backoff, worker counts and the common arguments.

Nothing here runs a job; ``pmap`` and ``jobs`` resolve their arguments through these
before anything starts, so a bad ``n_jobs``, ``retries`` or ``timeout`` is a
``UsageError`` with no job run.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import UsageError

if TYPE_CHECKING:
    from ..config import Settings


@dataclasses.dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits ``rand() × min(cap, base × 2ⁿ⁻¹)``.

    ``sleep`` and ``rand`` are injectable for tests; with ``sleep=None`` the wait is
    interruptible by cancellation.
    """

    base: float = 0.2
    cap: float = 10.0
    rand: Callable[[], float] = random.random
    sleep: Callable[[float], Any] | None = None

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return self.rand() * min(self.cap, self.base * (2 ** (attempt - 1)))


def auto_workers(cpus: int | None = None) -> int:
    """Worker count for IO-bound work from the CPU count: ``min(32, 4 × cpus + 4)``."""
    cpus = cpus or os.cpu_count() or 1
    return min(32, 4 * cpus + 4)


def resolve_workers(n_jobs: int | None, settings: Settings, n_items: int, *,
                    context_n_jobs: int | None = None) -> int:
    """Worker count, resolved like joblib: explicit, then context, then settings, then auto.

    An explicit or context ``n_jobs`` is taken as asked (``-1`` means all CPUs, as in
    joblib). ``settings.parallel_max_workers`` and the automatic count are capped at
    ``settings.pool_max_connections`` (the pool's per-endpoint limit: more threads than
    connections only queue on the pool). Always capped by the number of items, ≥ 1.
    """
    count = wanted_workers(n_jobs, settings, context_n_jobs)
    return max(1, min(count, max(n_items, 1)))


def wanted_workers(n_jobs: int | None, settings: Settings, context_n_jobs: int | None) -> int:
    """Worker count before the cap by the number of items (the size of a kept pool)."""
    chosen = n_jobs if n_jobs is not None else context_n_jobs
    if chosen is not None:
        check_n_jobs(chosen)
        return (os.cpu_count() or 1) if chosen == -1 else chosen
    count = settings.parallel_max_workers or auto_workers()
    return max(1, min(count, settings.pool_max_connections))


def check_n_jobs(n_jobs: object) -> None:
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or (n_jobs < 1 and n_jobs != -1):
        raise UsageError(f"n_jobs={n_jobs!r} is not valid",
                         suggestion="pass a whole number ≥ 1, -1 for all CPUs, or None for auto")


def check_common(retries: int | None, timeout: float | None, settings: Settings,
                 n_jobs: int | None) -> tuple[int, float | None]:
    """``(retries, timeout)`` with the settings' defaults filled in, after checking all three."""
    if n_jobs is not None:
        check_n_jobs(n_jobs)
    if retries is None:
        retries = settings.parallel_retry_count
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise UsageError(f"retries={retries!r} is not valid",
                         suggestion="pass a whole number ≥ 0 (0 = no retry)")
    if timeout is None:
        timeout = settings.parallel_job_timeout
    elif isinstance(timeout, bool) or not isinstance(timeout, int | float) or not (
            timeout > 0 and math.isfinite(timeout)):
        raise UsageError(f"timeout={timeout!r} is not valid",
                         suggestion="pass seconds > 0, or None for settings.parallel_job_timeout")
    return retries, timeout
