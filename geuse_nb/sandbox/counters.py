"""Counters the sandbox child keeps: connections accepted and requests served.

Connections are counted per region at accept (by the server's channel); requests per
(region, service, operation) with how many were throttled or failed with a 5xx.
"""

from __future__ import annotations

import threading
from typing import Any


class Counters:
    """Thread-safe tallies, read and reset through the control plane."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: dict[str, int] = {}
        self._requests: dict[tuple[str, str, str], list[int]] = {}

    def connection(self, region: str) -> None:
        with self._lock:
            self._connections[region] = self._connections.get(region, 0) + 1

    def request(self, region: str, service: str, operation: str, outcome: str | None) -> None:
        """Count one request; ``outcome`` is None, ``"throttle"`` or ``"error"``."""
        with self._lock:
            row = self._requests.setdefault((region, service, operation), [0, 0, 0])
            row[0] += 1
            if outcome == "throttle":
                row[1] += 1
            elif outcome == "error":
                row[2] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "connections": dict(self._connections),
                "requests": [
                    {"region": r, "service": s, "operation": o, "requests": n,
                     "throttled": t, "errors": e}
                    for (r, s, o), (n, t, e) in sorted(self._requests.items())
                ],
            }

    def reset(self) -> None:
        with self._lock:
            self._connections.clear()
            self._requests.clear()
