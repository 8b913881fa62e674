"""The engine's threads, tracked so that ``Engine.close()`` can join them, with a bound.

Every thread that works for an Engine (map drivers, kept pools' workers, DAG workers)
is tracked here as it starts. A Python thread cannot be killed, so a timed-out or
cancelled call keeps its thread until it returns: ``reap`` joins for at most a given
time and hands back the threads still running, which the Engine logs by name.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

_FORGET_PAST = 256  # tracked threads before the finished ones are dropped from the set


class ThreadReaper:
    """A thread-safe set of threads to join later."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()

    def track(self, thread: threading.Thread) -> None:
        """Remember ``thread`` (a kept pool's worker, a driver) until it is joined."""
        with self._lock:
            if len(self._threads) > _FORGET_PAST:  # finished drivers, closed pools' workers
                self._threads = {t for t in self._threads if t.is_alive()}
            self._threads.add(thread)

    def reap(self, bound: float, threads: Iterable[threading.Thread] | None = None,
             ) -> list[threading.Thread]:
        """Join ``threads`` (default: all tracked) for at most ``bound`` s; return the rest."""
        deadline = time.monotonic() + bound
        with self._lock:
            chosen = list(self._threads if threads is None else threads)
        left = []
        for thread in chosen:
            if thread is threading.current_thread():
                continue
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                left.append(thread)
            else:
                with self._lock:
                    self._threads.discard(thread)
        return left
