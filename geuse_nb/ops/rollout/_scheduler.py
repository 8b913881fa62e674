"""Start a wave's regions on worker threads under the plan's concurrency and tolerance.

Why not the engine's ``pmap``: a map hands every item to its pool at once and its
``cancel`` marks running jobs cancelled. StackSets' semantics are about *starting*: how many
regions may be in flight changes as failures arrive (strict mode), and once the tolerance
is exceeded nothing new starts while the regions in flight run to the end (a stack half
created must be waited for, not abandoned). So this loop, in the caller's thread, starts a
region whenever ``plan.concurrency(wave, failures)`` allows one more, and otherwise waits
for the next region to finish. Workers are threads of a pool the run owns; the loop is
where Ctrl-C lands (a ``KeyboardInterrupt`` from the queue wait), and the run then stops
the workers through their stop event.
"""

from __future__ import annotations

import collections
import dataclasses
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from ._plan import Plan


@dataclasses.dataclass
class WaveReport:
    """How a wave went: failures counted, whether the tolerance was exceeded, which
    regions never started, and the most that ran at once."""

    failures: int = 0
    exceeded: bool = False
    not_started: list[str] = dataclasses.field(default_factory=list)
    peak: int = 0


class Scheduler:
    """Runs ``work(region) -> failed`` for the regions of one wave at a time."""

    def __init__(self, plan: Plan, pool: ThreadPoolExecutor, stop: threading.Event) -> None:
        self.plan = plan
        self.pool = pool
        self.stop = stop
        self.in_flight: set[str] = set()  # read by the run after Ctrl-C
        self._done: queue.SimpleQueue[tuple[str, bool]] = queue.SimpleQueue()

    def _job(self, work: Callable[[str], bool], region: str) -> None:
        failed = True
        try:
            failed = work(region)
        finally:  # the loop must hear of every region it started, whatever happened
            self._done.put((region, failed))

    def run_wave(self, wave: int, regions: Sequence[str], work: Callable[[str], bool], *,
                 limit: Callable[[int], int] | None = None) -> WaveReport:
        """Start ``regions`` in order; ``limit(failures)`` (default: the plan's
        concurrency for ``wave``) says how many may run at once."""
        allowed = limit or (lambda failures: self.plan.concurrency(wave, failures))
        pending = collections.deque(regions)
        report = WaveReport()
        while True:
            can = allowed(report.failures)
            while pending and len(self.in_flight) < can and not self.stop.is_set():
                region = pending.popleft()
                self.in_flight.add(region)
                report.peak = max(report.peak, len(self.in_flight))
                self.pool.submit(self._job, work, region)
            if not self.in_flight:
                break
            try:
                region, failed = self._done.get(timeout=0.2)
            except queue.Empty:
                continue
            self.in_flight.discard(region)
            report.failures += bool(failed)
        report.not_started = list(pending)
        report.exceeded = allowed(report.failures) == 0
        return report

    def drain(self, timeout: float) -> None:
        """After a stop: wait (up to ``timeout`` s) for the regions in flight to return."""
        import time

        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            try:
                region, _ = self._done.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.in_flight.discard(region)
