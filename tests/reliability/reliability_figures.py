"""The reliability suite's figures and helpers (imported by its tests and its conftest).

Every test adds what it measured to ``FIGURES`` (faults injected, calls made, results
lost, duplicated requests, recovery time, files scanned for the canary); conftest prints
the table at the end of the run and writes it as JSON to ``GEUSE_RELIABILITY_FIGURES``.
"""

from __future__ import annotations

import threading
from typing import Any

_LOCK = threading.Lock()
FIGURES: dict[str, float] = {}
_MAX = {"max_recovery_seconds", "max_interrupt_return_seconds"}
ORDER = ("faults_injected", "calls_made", "results_lost", "duplicated_requests",
         "max_recovery_seconds", "max_interrupt_return_seconds", "files_scanned_for_canary",
         "canary_hits", "bad_input_cases")


def add_figure(name: str, value: float) -> None:
    """Sum ``value`` into figure ``name`` (or keep the max, for times)."""
    with _LOCK:
        if name in _MAX:
            FIGURES[name] = max(FIGURES.get(name, 0.0), float(value))
        else:
            FIGURES[name] = FIGURES.get(name, 0) + value


def faults_injected(box: Any) -> int:
    """Throttled + failed answers the sandbox gave since its last counter reset."""
    rows = box.counters()["requests"]
    return sum(int(r["throttled"]) + int(r["errors"]) for r in rows)
