"""Shared parts of the reliability suite: the figures table and small helpers.

Every test adds what it measured to ``FIGURES`` (faults injected, calls made, results
lost, duplicated requests, recovery time, files scanned for the canary); the table is
printed at the end of the run (``pytest tests/reliability``) and, when
``GEUSE_RELIABILITY_FIGURES`` names a file, written there as JSON (README.md's table
comes from that file). Long load tests are marked ``slow``: ``-m "not slow"`` skips
them in a quick local loop; ``make test`` runs everything.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from reliability_figures import FIGURES, ORDER


def pytest_terminal_summary(terminalreporter: Any) -> None:
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


@pytest.fixture()
def box(sandbox: Any) -> Iterator[Any]:
    """The session sandbox with no faults, instant stacks, RTT 0 and zeroed counters;
    put back the same way afterwards."""
    sandbox.clear_faults()
    sandbox.set_stacks()
    sandbox.set_network(rtt=0.0)
    sandbox.reset_counters()
    yield sandbox
    sandbox.clear_faults()
    sandbox.set_stacks()
    sandbox.set_network(rtt=0.0)
