"""Single-flight: concurrent identical cache misses make one request.

Without it, 16 threads that miss the same key at once make 16 identical AWS calls (and
16 throttling chances): a notebook's fan-out often asks every region for the same
``describe_regions`` or the same spot history at the same moment. ``SingleFlight.do(key,
fn)`` runs ``fn`` in the first thread to ask (the *leader*); threads that ask for the
same key while it runs (*followers*) wait for it and get its result, or its exception
raised again in each of them. When the leader is done the key is forgotten: the next
miss after that is a new flight. A miss that lost the race to a flight that finished
between its lookup and its ``do`` must not call again: ``epoch`` counts finished flights,
and ``TieredCache.single_flight`` looks in the cache again only when it moved since the
caller's lookup (so an uncontended miss pays no second lookup).

Measured in ``tests/reliability/test_single_flight.py``: 16 threads, one key, a 50 ms
RTT sandbox: 1 request instead of 16. An uncontended flight (one lock, one dict entry,
one ``threading.Event``) costs 9–14 µs on the loaded 2-core VM (timeit, 200 000 flights),
paid only on misses, each of which then costs a request of ~3 ms of botocore CPU at least.

Scope: one process (and one ``TieredCache``); across processes sharing a cache directory,
the in-process leader also takes a per-key lock there (``_xflight.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["SingleFlight"]


class _Flight:
    __slots__ = ("done", "error", "followers", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        self.followers = 0


class SingleFlight:
    """One call in flight per key; the others wait for it and share what it returns."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}
        self.led = 0  # flights run (calls of fn)
        self.shared = 0  # answers given to followers without a call
        self.epoch = 0  # flights finished: a caller that reads it before its lookup knows
        #                 whether any flight (of any key) ended since, i.e. if a look again pays

    def do(self, key: str, fn: Callable[[], Any]) -> tuple[Any, bool]:
        """``(fn's result, shared)``: ``shared`` is True when another thread's call for
        ``key`` was already running and this one waited for it. An exception of that call
        is raised here too (the same object; followers do not retry on their own); a leader
        stopped by a ``BaseException`` that is not an ``Exception`` (``KeyboardInterrupt``)
        hands the key on: a follower runs ``fn`` itself."""
        while True:
            with self._lock:
                flight = self._flights.get(key)
                leader = flight is None
                if flight is None:
                    flight = self._flights[key] = _Flight()
                    self.led += 1
                else:
                    flight.followers += 1
            if leader:
                break
            flight.done.wait()
            if flight.error is None:
                with self._lock:
                    self.shared += 1
                return flight.value, True
            if isinstance(flight.error, Exception):
                raise flight.error
            # the leader was interrupted (Ctrl-C, SystemExit): that is its thread's
            # business, not an answer; the next follower in line becomes the leader
        try:
            flight.value = fn()
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                del self._flights[key]
                self.epoch += 1
            flight.done.set()
        return flight.value, False

    def in_flight(self) -> int:
        """Keys being fetched right now."""
        with self._lock:
            return len(self._flights)

    def __repr__(self) -> str:
        return f"<SingleFlight {self.in_flight()} in flight, {self.led} led, {self.shared} shared>"
