"""The run loop: the calling thread's view of one map or DAG, events in, outcomes out.

A backend starts the jobs and returns at once; the calling thread then only reads the
run's event queue (``collect``). It updates the status line as jobs finish, enforces
timeouts from the ``Started`` events it sees, and reacts to cancellation, so it never
blocks inside joblib or Dask: Ctrl-C in a notebook lands here and finished work is kept.

What a backend may use of a ``Run`` (the whole of its side of the contract):
``workers`` and ``pool_size`` (how many to run at once; the size a kept pool would
have), ``runner`` (attached: posts events, call it as ``runner(index, call)`` in a
worker thread) or ``remote_runner`` (picklable: returns the ``Outcome``, to hand back
with ``report``), ``done(error)`` when its driver stops, ``cancel`` (an Event set when
the run is cancelled), ``adopt``/``track`` for its threads, ``on_finish`` for clean-up
when the run returns, and ``keeps_threads`` when its workers outlive the run.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import GeuseError
from ..states import JobStatus
from ._events import DriverDone, Ended, Event, Retrying, Started
from ._reaper import ThreadReaper
from ._runner import AttemptTimeout, JobRunner
from .results import Outcome

_DRAW_EVERY = 0.02  # s between status-line redraws (events come far faster)
_POLL = 0.25  # s between checks for cancel() and driver death when nothing happens
NOTED_STARTS_FROM = 10.0  # s: with a timeout this long or none, jobs' events are noted
_NOTES_EVERY = 0.1  # s between readings of the notes while ends are noted
_BUCKET = {JobStatus.DONE: "done", JobStatus.FAILED: "failed", JobStatus.TIMED_OUT: "failed"}


class Run:
    """One map or DAG in flight (see the module docstring)."""

    def __init__(self, name: str, n: int, *, workers: int, pool_size: int,
                 runner: JobRunner, status: Any, reaper: ThreadReaper,
                 suggest: Callable[[BaseException], str | None]) -> None:
        self.name = name
        self.workers = workers
        self.pool_size = pool_size
        self.timeout = runner.timeout
        self.events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self.post: Callable[[Event], None] = self.events.put
        # Starts (and, for a backend that says when its last job ended, ends) are noted
        # here and read at the loop's next turn instead of waking it, unless a short
        # timeout needs them at once (see ``_noting``)
        self._notes: collections.deque[Event] = collections.deque()
        self.ends_noted = False  # set by ``note_ends``
        self.cancel = threading.Event()
        self.remote_runner = runner
        short = self.timeout is not None and self.timeout < NOTED_STARTS_FROM
        self.runner = runner.attached(self.post if short else self._noting(), self.cancel)
        self.outcomes = [Outcome(i) for i in range(n)]
        self.unresolved = n
        self.running: dict[int, float] = {}  # index -> monotonic start of current attempt
        self.retrying: set[int] = set()
        self.zombies: set[int] = set()  # resolved by us but still running in a worker
        self.counts = dict.fromkeys(("done", "failed", "cancelled"), 0)
        self.interrupted = False
        self.driver_done = False
        self.crash: BaseException | None = None
        self.on_resolved: Callable[[Outcome], None] | None = None
        self.on_rows: Callable[[list[tuple[str, dict[str, Any]]]], Any] | None = None
        self.keeps_threads = False  # its workers belong to a kept pool: not joined at the end
        self.threads: set[threading.Thread] = set()
        self._finishers: list[Callable[[], None]] = []
        self._reaper = reaper
        self._lock = threading.Lock()
        self._suggest = suggest
        self.status = status
        self.drawn = 0.0
        self.dirty = False

    def _noting(self) -> Callable[[Event], None]:
        """The runner's ``post`` unless the timeout is short: a ``Started`` (and an
        ``Ended``, once a backend calls ``note_ends``) is appended to a deque, every other
        event goes to the queue. The run loop wakes for each event it reads, ~20 µs of
        the calling thread's CPU each (a futex wake, the GIL back); with two events a
        job, that was two thirds of its loop's CPU in a 64-call fan-out at RTT 0 (3.3 of
        its 8 ms on the calling thread; 0.5 of 4.3 ms with both noted). A worker notes in the
        order things happen, so the loop, which reads the notes before each event it
        wakes for, never sees a job end before it started, nor the driver done before
        the last end. The loop learns of a note at its next turn (``_NOTES_EVERY``,
        0.1 s, while ends are noted; else an event, or ``_POLL``): a timeout is then
        enforced up to that late, which is why timeouts under ``NOTED_STARTS_FROM``
        (10 s; the default is 300) still post everything; the live status moves as
        late (tqdm's own default is to redraw at most every 0.1 s)."""
        note, put, run = self._notes.append, self.events.put, self

        def post(event: Event) -> None:
            kind = type(event)
            if kind is Started or (kind is Ended and run.ends_noted):
                note(event)
            else:
                put(event)
        return post

    def _read_notes(self) -> None:
        notes = self._notes
        if notes:
            while notes:
                self.handle(notes.popleft())
            self.dirty = True  # counts changed: drawn within _DRAW_EVERY

    # ------------------------------------------------ for backends
    def note_ends(self) -> None:
        """The backend calls ``done()`` after its last job's end: a job's end then need not
        wake the loop (``_noting``); the ``DriverDone`` does, once. Not for a DAG, whose
        loop must see each end at once to start what depends on it."""
        self.ends_noted = True

    def report(self, outcome: Outcome) -> None:
        """Hand back an ``Outcome`` a ``remote_runner`` returned."""
        self.post(Ended(outcome))

    def done(self, error: BaseException | None = None) -> None:
        """The backend's driver has stopped (``error``: the backend itself broke)."""
        self.post(DriverDone(error))

    def adopt(self, thread: threading.Thread | None = None) -> None:
        """Track a thread working for this run (default: the calling one); joined at the
        end of the run unless ``keeps_threads``, and by ``Engine.close()`` in any case."""
        thread = thread or threading.current_thread()
        self._reaper.track(thread)
        with self._lock:
            self.threads.add(thread)

    def track(self, thread: threading.Thread) -> None:
        """Track a thread that outlives this run (a kept pool's worker) for Engine.close()."""
        self._reaper.track(thread)

    def on_finish(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when the run returns (from the calling thread)."""
        self._finishers.append(callback)

    # ------------------------------------------------ for the Engine
    def finish(self) -> None:
        """The run has returned: stop the status line and let the backend clean up."""
        self.cancel.set()  # anything still queued returns at once
        self.draw(force=True)
        try:
            for callback in self._finishers:
                callback()
        finally:
            self.status.close()

    def own_threads(self) -> list[threading.Thread]:
        with self._lock:
            return list(self.threads)

    def resolve(self, out: Outcome, status: JobStatus, error: BaseException | None = None,
                ) -> None:
        if out.status is not None:
            return
        out.status = status
        if error is not None:
            out.error = error
        if out.error is not None:
            out.suggestion = self._suggest(out.error)
        if out.ended is None:
            out.ended = time.time()
        self.unresolved -= 1
        self.running.pop(out.index, None)
        self.retrying.discard(out.index)
        self.counts[_BUCKET.get(status, "cancelled")] += 1
        if self.on_resolved is not None:
            self.on_resolved(out)

    def handle(self, event: Event) -> None:
        # Class patterns without positional fields: ``case Started(index, ...)`` reads each
        # field through ``__match_args__``: 0.96 µs of CPU per event, these 0.55 µs.
        match event:
            case Ended():
                late = event.outcome
                if late.rows and self.on_rows is not None:  # kept even from a late job
                    self.on_rows(late.rows)
                    late.rows = None
                if late.index in self.zombies:
                    self.zombies.discard(late.index)
                    return
                mine = self.outcomes[late.index]
                if mine.status is not None:
                    return
                mine.value, mine.attempts = late.value, late.attempts
                mine.started, mine.ended = late.started, late.ended
                self.resolve(mine, late.status or JobStatus.CANCELLED, late.error)
            case Started():
                mine = self.outcomes[event.index]
                if mine.status is None:
                    self.running[event.index] = event.mono
                    self.retrying.discard(event.index)
                    mine.attempts = event.attempt
                    if mine.started is None:
                        mine.started = event.wall
            case Retrying():
                if self.outcomes[event.index].status is None:
                    self.running.pop(event.index, None)
                    self.retrying.add(event.index)
            case DriverDone():
                if event.error is not None:
                    self.crash = event.error
                self.driver_done = True

    def draw(self, *, force: bool = False) -> None:
        """Refresh the status line, at most every 20 ms (events come far faster)."""
        now = time.monotonic()
        if not force and now - self.drawn < _DRAW_EVERY:
            self.dirty = True  # drawn by the wait loop within 20 ms
            return
        self.drawn, self.dirty = now, False
        self.status.update(done=self.counts["done"], failed=self.counts["failed"],
                           cancelled=self.counts["cancelled"], running=len(self.running),
                           retrying=len(self.retrying))

    # ------------------------------------------------ the wait loop
    def collect(self) -> None:
        """Read events until every job is resolved (or cancelled, or the driver died).

        Ctrl-C may land anywhere in this loop, not only in the wait (a SIGINT is raised
        at the next bytecode): wherever it lands, the run is cancelled and the loop goes
        on to resolve every job, so no job is left unresolved and no worker unjoined."""
        while self.unresolved:
            try:
                if not self._step():
                    break
            except KeyboardInterrupt:
                self.interrupted = True
                self.cancel.set()

    def _step(self) -> bool:
        """One turn of the wait loop; False when the run is over."""
        self._read_notes()
        if self.cancel.is_set():
            self._drain()
            self._give_up(JobStatus.CANCELLED, "cancelled before it finished")
            return False
        if self.driver_done and self.events.empty():
            why = self.crash or GeuseError("the parallel backend stopped early")
            self._give_up(JobStatus.FAILED, None, error=why)
            return False
        try:
            event: Event | None = self.events.get(timeout=self._next_deadline())
        except queue.Empty:
            event = None
        self._read_notes()  # noted before the event was posted; before any expiry
        if event is not None:
            self.handle(event)
            self.draw()
        elif self.dirty:
            self.draw(force=True)
        if self.timeout is not None and self.running:
            self._expire()
        if len(self.zombies) >= self.workers and self.unresolved and not (
                self.running or self.retrying):
            self._give_up(JobStatus.CANCELLED, f"not started: all {self.workers} workers "
                          "are held by jobs that timed out")
        return True

    def _drain(self) -> None:
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                self._read_notes()
                return
            self._read_notes()
            self.handle(event)

    def _next_deadline(self) -> float:
        wait = _DRAW_EVERY if self.dirty else _NOTES_EVERY if self.ends_noted else _POLL
        if self.timeout is not None and self.running:
            first = min(self.running.values()) + self.timeout
            wait = min(wait, max(0.0, first - time.monotonic()))
        return wait

    def _expire(self) -> None:
        now = time.monotonic()
        if self.timeout is None or now - min(self.running.values()) < self.timeout:
            return
        for index, began in list(self.running.items()):
            if now - began >= self.timeout:
                out = self.outcomes[index]
                self.zombies.add(index)
                self.resolve(out, JobStatus.TIMED_OUT, AttemptTimeout(
                    f"attempt {out.attempts} ran past the {self.timeout:g} s job timeout"))
        self.draw()

    def _give_up(self, status: JobStatus, text: str | None, *,
                 error: BaseException | None = None) -> None:
        for out in self.outcomes:
            if out.status is None:
                if out.index in self.running:
                    self.zombies.add(out.index)
                self.resolve(out, status, error or GeuseError(text or status))
        self.draw()
