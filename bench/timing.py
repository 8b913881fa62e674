"""The one way the benchmarks time a call: per-call wall seconds, and their median."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def timings(fn: Callable[[], Any], n: int, *, before: Callable[[], Any] | None = None,
            warmup: int = 0, pause: float = 0.0) -> list[float]:
    """Wall seconds of each of ``n`` calls of ``fn`` after ``warmup`` untimed ones;
    ``before`` runs untimed ahead of every call, ``pause`` s pass between calls."""
    for _ in range(warmup):
        if before:
            before()
        fn()
    out = []
    perf = time.perf_counter
    for _ in range(n):
        if before:
            before()
        if pause:
            time.sleep(pause)  # spacing between timed runs, outside the timing
        start = perf()
        fn()
        out.append(perf() - start)
    return out


def median_seconds(fn: Callable[[], Any], n: int, **kwargs: Any) -> float:
    """The median of ``timings(fn, n, **kwargs)``."""
    return statistics.median(timings(fn, n, **kwargs))
