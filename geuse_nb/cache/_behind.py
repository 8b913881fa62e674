"""Write-behind: answers reach slow tiers (disk) from one background writer, in batches.

Why: a disk store costs the caller ~60 µs of CPU and more in wall time (pickle, zlib,
one SQLite transaction and its commit) for every answer, in the thread that is waiting
to hand the answer back. ``TieredCache.store`` writes the fast tiers (memory) at once, so
a read right after a write hits, and puts the slow tiers' writes here; one writer thread
gathers what is queued for up to ``LINGER`` (500 ms; at once when someone waits in
``flush()``) and hands it to ``Tier.set_many``, which the disk tier runs inside one
``diskcache`` ``transact()``: measured here ~57 µs per entry in a batch of 300 against
~82 µs for a lone ``set`` (``DEPENDENCY-FACTS.md``), and none of it on the caller's path.
Why 500 ms: a batch has a fixed cost, larger than a commit's (~20 µs hot): the writer
wakes with cold caches and takes the GIL from a busy caller. With uncached calls at RTT
0 alternating with other work, the writer's thread CPU per entry was 70-107 µs at 100 ms,
~50 µs at 300 ms and ~35 µs at 1 s (300 calls per batch window, thread CPU clock, 4
rounds each; earlier, calls alone: 97 µs at 20 ms, 56 at 100 ms, 44 at 250 ms). Half a
second keeps most of that and what another process waits for short.

What another process may see, and when: an answer is on disk once its batch commits,
within ``LINGER`` plus the commit (about half a second); ``flush()`` waits for
everything queued so far. ``TieredCache.close()`` (so
``kit.close()``) and interpreter exit flush. A process killed with SIGKILL loses at most
what was queued and not yet committed; SQLite's transaction keeps the cache consistent
(a batch is all or nothing).

Clear, evict and expire flush first (``TieredCache._remove``), so a write queued before
a ``clear()`` cannot land after it and bring the entry back.

The writer exits after ``IDLE_EXIT`` seconds with nothing to do and is started again by
the next write: no thread outlives the work, and a cache that is never closed does not
keep one.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._tier import Entry, Tier, Write

log = logging.getLogger(__name__)

IDLE_EXIT = 0.5  # s with nothing queued before the writer thread ends
LINGER = 0.5  # s the writer waits after the first entry of a batch, to gather more
BATCH_MAX = 512  # entries per transaction (a bound on what one commit holds)


class WriteBehind:
    """A queue of writes per slow tier and the one thread that drains it."""

    def __init__(self, name: str = "cache") -> None:
        self._name = name
        self._cond = threading.Condition()
        self._queue: list[tuple[Tier, Write]] = []
        self._pending: dict[tuple[int, str], Write] = {}  # (id(tier), key) → latest write
        self._busy = 0  # batches being written (taken off the queue, not committed)
        self._flushing = 0  # threads waiting in flush(): write at once, do not linger
        self._thread: threading.Thread | None = None
        self._closed = False
        ref = weakref.ref(self)
        self._at_exit: Callable[[], None] = lambda: _flush_ref(ref)
        atexit.register(self._at_exit)

    def put(self, tier: Tier, write: Write) -> None:
        """Queue ``write`` for ``tier``; starts the writer if it is not running."""
        with self._cond:
            if self._closed:  # after close: write through, nothing may be lost
                closed = True
            else:
                closed = False
                self._queue.append((tier, write))
                self._pending[id(tier), write.key] = write
                if self._thread is None:
                    self._thread = threading.Thread(target=self._drain, daemon=True,
                                                    name=f"geuse-write-behind-{self._name}")
                    self._thread.start()
                elif len(self._queue) == 1:
                    self._cond.notify()
        if closed:
            tier.set(write.key, write.entry, expire=write.expire, group=write.group,
                     payload=write.payload)

    def get(self, tier: Tier, key: str) -> Entry | None:
        """The entry queued for ``tier`` under ``key`` and not yet written, or None: a read
        right after a write finds it even when no faster tier keeps it."""
        write = self._pending.get((id(tier), key))  # a dict read: atomic under the GIL
        return None if write is None else write.entry

    def write_now(self, tier: Tier, key: str) -> None:
        """Write ``key``'s queued entry for ``tier`` at once, in the calling thread: another
        process is waiting to read it (cross-process single-flight). Its queued copy is
        written again later, the same value."""
        write = self._pending.get((id(tier), key))
        if write is not None:
            tier.set_many([write])

    @property
    def pending(self) -> int:
        """Writes queued or being written."""
        with self._cond:
            return len(self._queue) + self._busy

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far is written; False if ``timeout`` ran out.
        Called from the writer thread itself (a tier's callback), it returns at once."""
        if threading.current_thread() is self._thread:
            return True
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()  # the writer stops gathering and writes now
            try:
                return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)
            finally:
                self._flushing -= 1

    def close(self, timeout: float | None = 30.0) -> None:
        """Flush and stop; later writes go straight to their tier."""
        self.flush(timeout)
        with self._cond:
            self._closed = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        atexit.unregister(self._at_exit)

    def after_fork(self) -> None:
        """In a forked child: the parent's queue and thread are not ours."""
        self._cond = threading.Condition()
        self._queue = []
        self._pending = {}
        self._busy = 0
        self._flushing = 0
        self._thread = None

    # ------------------------------------------------------------ the writer thread
    def _drain(self) -> None:
        used: dict[int, Tier] = {}
        try:
            self._write_until_idle(used)
        finally:
            for tier in used.values():
                tier.thread_done()

    def _write_until_idle(self, used: dict[int, Tier]) -> None:
        while True:
            with self._cond:
                if not self._queue and not self._cond.wait_for(
                        lambda: self._queue or self._closed, IDLE_EXIT):
                    self._thread = None  # idle: end; the next put starts another
                    return
                if not self._queue:  # closed and empty
                    self._thread = None
                    self._cond.notify_all()
                    return
                if not self._closed and not self._flushing:  # gather a batch, unless waited on
                    self._cond.wait_for(lambda: len(self._queue) >= BATCH_MAX or self._closed
                                        or self._flushing, LINGER)
                batch, self._queue = self._queue[:BATCH_MAX], self._queue[BATCH_MAX:]
                self._busy += 1
            for tier, _ in batch:
                used.setdefault(id(tier), tier)
            try:
                _write(batch)
            finally:
                with self._cond:
                    for tier, write in batch:  # written: the tier answers for it now
                        if self._pending.get((id(tier), write.key)) is write:
                            del self._pending[id(tier), write.key]
                    self._busy -= 1
                    self._cond.notify_all()


def _write(batch: list[tuple[Tier, Write]]) -> None:
    """Hand each tier the latest write of each key in the batch: the earlier ones would
    be overwritten in the same transaction (a loop refreshing one key stored it 80 times
    per commit, 80 SQLite updates where one does)."""
    latest: dict[tuple[int, str], tuple[Tier, Write]] = {}
    for tier, write in batch:
        latest[id(tier), write.key] = (tier, write)  # a later write of a key wins
    by_tier: dict[int, tuple[Tier, list[Write]]] = {}
    for tier, write in latest.values():
        by_tier.setdefault(id(tier), (tier, []))[1].append(write)
    for tier, writes in by_tier.values():
        try:
            tier.set_many(writes)
        except Exception:  # a tier reports its own failures; the writer must go on
            log.warning("write-behind to the %s tier failed", tier.name, exc_info=True)


def _flush_ref(ref: weakref.ReferenceType[WriteBehind]) -> None:
    behind = ref()
    if behind is not None:
        behind.flush(timeout=30.0)

