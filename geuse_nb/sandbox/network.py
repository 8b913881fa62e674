"""The network model the sandbox child applies to every request: latency and faults.

Latency: each region has an RTT; every request takes at least one RTT counted from its
arrival (the sandbox's own processing, and waiting for its one process, count towards it,
so a client sees about one RTT per call, not RTT + the emulator's CPU), and a connection's
first request also pays ``handshake_factor`` × RTT (TCP + TLS).
Faults: throttling and 5xx at a rate, decided by a per-region ``random.Random`` seeded from
(seed, region), so a sequential run is repeatable; and region outages, ``"refuse"``
(listener closed) or ``"hang"`` (accepted, never answered).
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import SandboxError
from .regions import _seconds, check_region

OUTAGES = ("refuse", "hang")


@dataclasses.dataclass
class Faults:
    """Fault settings of one region."""

    throttle_rate: float = 0.0
    error_rate: float = 0.0
    outage: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _rate(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise SandboxError(f"{name}={value!r} is not valid",
                           suggestion="give a fraction between 0 and 1 (0.3 = 30 % of requests)")
    return float(value)


def _rng(seed: int, region: str) -> random.Random:
    digest = hashlib.sha256(f"faults:{seed}:{region}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


class NetworkModel:
    """Thread-safe RTTs, handshake factor and faults of every region."""

    def __init__(self, regions: Iterable[str], rtts: Mapping[str, float],
                 handshake_factor: float = 2.0, seed: int = 42) -> None:
        self.regions = list(regions)
        self._lock = threading.Lock()
        self._rtt = {r: float(rtts[r]) for r in self.regions}
        self._handshake = self._factor(handshake_factor)
        self._seed = seed
        self._faults = {r: Faults() for r in self.regions}
        self._rngs = {r: _rng(seed, r) for r in self.regions}

    @staticmethod
    def _factor(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 20:
            raise SandboxError(f"handshake_factor={value!r} is not valid",
                               suggestion="give a number of RTTs between 0 and 20 (default 2)")
        return float(value)

    def _targets(self, region: str | None) -> list[str]:
        return self.regions if region is None else [check_region(region, self.regions)]

    # ------------------------------------------------------------ latency
    def set_network(self, rtt: float | Mapping[str, float] | None = None,
                    region: str | None = None, handshake_factor: float | None = None) -> None:
        """Change RTT (one region, all, or a {region: seconds} mapping) and/or the handshake."""
        with self._lock:
            if isinstance(rtt, Mapping):
                for name, value in rtt.items():
                    self._rtt[check_region(name, self.regions)] = _seconds("rtt", value)
            elif rtt is not None:
                value = _seconds("rtt", rtt)
                for name in self._targets(region):
                    self._rtt[name] = value
            if handshake_factor is not None:
                self._handshake = self._factor(handshake_factor)

    def latency(self, region: str, new_connection: bool) -> tuple[float, float]:
        """(RTT, handshake surcharge) in seconds for a request in ``region``."""
        rtt = self._rtt.get(region, 0.0)
        return rtt, rtt * self._handshake if new_connection else 0.0

    # ------------------------------------------------------------ faults
    def set_faults(self, region: str | None = None, throttle_rate: float = 0.0,
                   error_rate: float = 0.0, outage: str | None = None,
                   seed: int | None = None) -> list[str]:
        """Replace the faults of one region (or all); returns the regions changed."""
        faults = Faults(_rate("throttle_rate", throttle_rate), _rate("error_rate", error_rate),
                        outage)
        if outage is not None and outage not in OUTAGES:
            raise SandboxError(f"outage={outage!r} is not valid",
                               suggestion=f"use one of {OUTAGES} or None")
        targets = self._targets(region)
        with self._lock:
            if seed is not None:
                self._seed = int(seed)
            for name in targets:
                self._faults[name] = dataclasses.replace(faults)
                self._rngs[name] = _rng(self._seed, name)
        return targets

    def outage(self, region: str) -> str | None:
        return self._faults[region].outage if region in self._faults else None

    def draw(self, region: str) -> str | None:
        """Decide this request's fate: ``"throttle"``, ``"error"`` or None (serve it)."""
        faults = self._faults.get(region)
        if faults is None or (not faults.throttle_rate and not faults.error_rate):
            return None
        with self._lock:
            x = self._rngs[region].random()
        if x < faults.throttle_rate:
            return "throttle"
        if x < faults.throttle_rate + faults.error_rate:
            return "error"
        return None

    def pick(self, region: str, choices: tuple[Any, ...]) -> Any:
        """A seeded choice among ``choices`` (which 5xx to send)."""
        with self._lock:
            return self._rngs[region].choice(choices)

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "rtt": dict(self._rtt),
                "handshake_factor": self._handshake,
                "seed": self._seed,
                "faults": {r: f.as_dict() for r, f in self._faults.items()},
            }
