"""The reliability suite's figures and helpers (imported by its tests and its conftest).

Every test adds what it measured to ``FIGURES`` (faults injected, calls made, results
lost, duplicated requests, recovery time, files scanned for the canary); conftest prints
the table at the end of the run and writes it as JSON to ``GEUSE_RELIABILITY_FIGURES``.
"""

from __future__ import annotations

import json
import os
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


def report(terminalreporter: Any) -> None:
    """Print the table at the end of the run; write it to ``GEUSE_RELIABILITY_FIGURES``."""
    if not FIGURES:
        return
    rep = terminalreporter
    rep.section("reliability figures")
    for name in sorted(FIGURES, key=lambda n: (ORDER.index(n) if n in ORDER else 99, n)):
        value = FIGURES[name]
        shown = f"{value:.2f}" if isinstance(value, float) and not value.is_integer() else \
            f"{int(value)}"
        rep.write_line(f"{name:32s} {shown}")
    target = os.environ.get("GEUSE_RELIABILITY_FIGURES")
    if target:
        with open(target, "w") as fh:
            json.dump(FIGURES, fh, indent=1, sort_keys=True)
