"""Shared parts of the reliability suite: the figures table and small helpers.

Every test adds what it measured to ``FIGURES`` (faults injected, calls made, results
lost, duplicated requests, recovery time, files scanned for the canary); the table is
printed at the end of the run (``pytest tests/reliability``) and, when
``GEUSE_RELIABILITY_FIGURES`` names a file, written there as JSON (README.md's table
comes from that file). Long load tests are marked ``slow``: ``-m "not slow"`` skips
them in a quick local loop; ``make test`` runs everything.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from reliability_figures import report


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if not getattr(config.option, "numprocesses", None):  # under -n: tests/conftest.py
        report(terminalreporter)


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
