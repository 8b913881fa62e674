"""Single-flight across processes: one request per key among processes sharing a cache_dir.

``flight.py`` makes the threads of one process wait for one another; two notebooks, a
``processes`` backend's workers or Dask workers on one ``cache_dir`` would still each
send the same miss. Here the in-process leader (only it: followers wait on the
in-process flight first) takes a per-key lock in a diskcache ``Cache`` before it sends;
a leader of another process that finds the key locked waits for it, then looks in the
cache again (the disk tier now holds the holder's answer) and sends only if the value is
not there (the holder failed, or its lock lapsed).

Choices:

- The lock is diskcache's: an atomic ``Cache.add`` of the lock key with an ``expire``,
  which is what ``diskcache.Lock`` does. Not ``diskcache.Lock`` itself: its ``acquire``
  has no timeout and its ``release`` deletes the key whoever holds it (a holder whose
  lock lapsed would free the next holder's). Here the value is a token of the holder and
  release deletes only its own, in one transaction.
- A dead holder (SIGKILL mid-request) cannot release: its lock lapses after
  ``LOCK_EXPIRE`` s, and a waiter gives up after ``WAIT_TIMEOUT`` s in any case and
  fetches for itself (a duplicate request is the worst outcome, never a hang). A live
  holder slower than the expiry only costs one duplicate request.
- The locks live in their own small ``Cache`` (``<cache_dir>/flight-v1``), not in the
  disk tier's: lock rows would otherwise count as entries in ``cache.stats()``, be culled
  by the size limit, and tie this module to the disk tier's internals.
- Waiting polls (``Cache.add`` every 2 ms, backing off to 50 ms), as ``diskcache.Lock``
  does (it polls every 1 ms): SQLite has no wake-up. A wait costs at most ~50 ms more
  than the holder's request. An uncontended acquire + release (two SQLite transactions,
  ``sqlite_synchronous=0``: locks need no durability) costs ~0.17 ms wall, 0.08 ms CPU
  (2000 flights on the loaded 2-core VM; 0.30 ms with durable commits), paid only by a
  miss that is about to send a request (≥ 3 ms of botocore CPU alone).
- Never worse than no lock: a waiter that finds nothing on disk after the wait (the
  holder failed, its value is not stored — unpicklable, or credentials — or it died)
  drops the lock at once and fetches, so the waiters fetch side by side as they did
  before, not one after another.
- Only a leader that waited looks again after taking the lock: a process that misses
  just as another releases the key (between its lookup and its acquire, a window of
  microseconds) sends a second request; looking again always would cost every
  uncontended miss a second walk of the tiers.
- The holder's answer must be on disk before the lock is released: ``TieredCache``
  writes the key's store (write-behind) at once before calling ``release``.
- **No lock for a process alone.** Each cache records itself (an id, the time) in the
  directory's ``peers`` row when it is made and at most once a second on misses
  (``announce``), and leaves it at ``close()``; a miss takes the lock only while another
  cache (another process, or a second kit of this one) was heard of within ``PEER_TTL``.
  Locking every miss cost a fan-out its speed: 64 concurrent misses made 128 SQLite
  write transactions, serialized by SQLite's database lock, and the default 4 × 16
  fan-out went from 0.79× to 1.04× a hand-written pool's wall (issue N's bench, one run
  each, load ~6). The cost of the check: one transaction a second. The price: a
  process that starts missing within a second of another's first look may still send
  its own request once.

Measured in ``tests/reliability/test_xprocess_flight.py``: 4 processes × 4 threads, one
key, RTT 0.3 s → 1 request (the sandbox's counter); a holder killed mid-request holds
the others back only until its lock lapses.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from pathlib import Path

import diskcache

log = logging.getLogger(__name__)

SUBDIR = "flight-v1"
PEER_TTL = 300.0  # s: a process unheard of for this long no longer counts as sharing
PEER_CHECK = 1.0  # s between a process's looks at who else shares the directory
LOCK_EXPIRE = 10.0  # s: a dead holder's lock lapses after this
WAIT_TIMEOUT = 15.0  # s: a waiter fetches for itself after this, whoever holds the lock
_FIRST_POLL = 0.002
_MAX_POLL = 0.05

__all__ = ["LOCK_EXPIRE", "WAIT_TIMEOUT", "CrossProcessFlight", "Held"]


class Held:
    """One acquire's outcome: ``token`` (None when the wait timed out or locks are off)
    and ``waited`` (another process held the key when this one asked)."""

    __slots__ = ("key", "token", "waited")

    def __init__(self, key: str, token: str | None, waited: bool) -> None:
        self.key = key
        self.token = token
        self.waited = waited


class CrossProcessFlight:
    """Per-key locks shared by the processes of one ``cache_dir`` (module docstring)."""

    def __init__(self, cache_dir: str | os.PathLike[str], *, expire: float = LOCK_EXPIRE,
                 timeout: float = WAIT_TIMEOUT) -> None:
        self.directory = Path(cache_dir) / SUBDIR
        self.expire = float(expire)
        self.timeout = float(timeout)
        self._lock = threading.Lock()
        self._cache: diskcache.Cache | None = None
        self._pid = 0
        self._broken = False
        self.waited = 0  # acquires that found the key held by another process
        self.timed_out = 0  # waits that gave up and fetched anyway
        self._peers = False  # another process was seen on this directory
        self._next_check = 0.0
        # one per cache, not per process: two kits of one process on one directory do not
        # share an in-process flight either
        self._me = f"{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.announce()  # from the start, other processes on this directory know of this one
        self._next_check = 0.0  # and the first miss looks again: others may have come since

    def announce(self) -> bool:
        """Say that this process uses the directory, and look at who else does (at most
        every ``PEER_CHECK`` s); True when another process was heard of within
        ``PEER_TTL``. Never raises and never warns: a directory that cannot be opened is
        reported by ``acquire``, and a process alone takes no lock."""
        now = time.monotonic()
        if now < self._next_check:
            return self._peers
        self._next_check = now + PEER_CHECK
        cache = self._handle(quiet=True)
        if cache is None:
            return False
        wall = time.time()
        try:
            with cache.transact(retry=True):
                seen = cache.get("peers", default={}, retry=True)
                seen = {who: at for who, at in seen.items() if wall - at < PEER_TTL}
                seen[self._me] = wall
                cache.set("peers", seen, retry=True)
        except Exception as exc:  # a lock is an optimisation: alone, then
            log.debug("could not record this process in %s (%s)", self.directory, exc)
            return False
        self._peers = len(seen) > 1
        return self._peers

    def _handle(self, *, quiet: bool = False) -> diskcache.Cache | None:
        cache = self._cache
        if cache is not None and self._pid == os.getpid():
            return cache
        base = self.directory.parent  # the cache_dir
        if self._broken or (quiet and not base.parent.is_dir()):
            return None  # quiet (the first announce): no parent folders made on the way
        with self._lock:
            if self._cache is None or self._pid != os.getpid():
                try:
                    base.mkdir(mode=0o700, parents=not quiet, exist_ok=True)  # 0700, as
                    self.directory.mkdir(mode=0o700, exist_ok=True)  # the disk tier does
                    # synchronous=OFF: a lock lost to a power cut costs one duplicate
                    # request; durable commits cost 0.3 ms a flight instead of 0.17
                    self._cache = diskcache.Cache(str(self.directory), timeout=60,
                                                  eviction_policy="none",
                                                  sqlite_synchronous=0)
                except Exception as exc:  # no locks: each process fetches, as before
                    if not quiet:
                        log.warning("cross-process single-flight is off: %s cannot be "
                                    "opened (%s)", self.directory, exc)
                        self._broken = True
                    return None
                self._pid = os.getpid()
            return self._cache

    def acquire(self, key: str) -> Held:
        """Take ``key``'s lock, waiting (up to ``timeout``) while another holds it; no lock
        at all while no other process shares the directory (``announce``)."""
        if not self.announce():
            return Held(key, None, False)
        cache = self._handle()
        if cache is None:
            return Held(key, None, False)
        token = f"{os.getpid()}:{uuid.uuid4().hex}"
        name = "lock:" + key
        deadline = time.monotonic() + self.timeout
        delay = _FIRST_POLL
        waited = False
        try:
            while not cache.add(name, token, expire=self.expire, retry=True):
                if not waited:
                    waited = True
                    self.waited += 1
                    log.debug("%s is being fetched by another process; waiting", key)
                if time.monotonic() >= deadline:
                    self.timed_out += 1
                    log.info("waited %.0f s for another process's fetch of %s; fetching "
                             "it here", self.timeout, key)
                    return Held(key, None, True)
                time.sleep(delay)
                delay = min(delay * 2, _MAX_POLL)
        except Exception as exc:  # a lock is an optimisation: never fail the read for it
            log.warning("cross-process lock of %s failed (%s); fetching without it", key, exc)
            return Held(key, None, waited)
        return Held(key, token, waited)

    def release(self, held: Held) -> None:
        """Drop ``held``'s lock if it is still this holder's (it may have lapsed and been
        taken by another process since)."""
        if held.token is None:
            return
        cache = self._handle()
        if cache is None:
            return
        name = "lock:" + held.key
        with contextlib.suppress(Exception), cache.transact(retry=True):
            if cache.get(name, retry=True) == held.token:
                cache.delete(name, retry=True)

    def after_fork(self) -> None:
        """The parent's handle and lock are not this process's; the child is a new peer."""
        self._lock = threading.Lock()
        self._cache = None
        self._pid = 0
        self._me = f"{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._next_check = 0.0

    def close(self) -> None:
        """Leave the peers row (others stop locking for this one) and close the handle."""
        with self._lock:
            cache, self._cache = self._cache, None
        if cache is not None and self._pid == os.getpid():
            with contextlib.suppress(Exception), cache.transact(retry=True):
                seen = cache.get("peers", default={}, retry=True)
                if seen.pop(self._me, None) is not None:
                    cache.set("peers", seen, retry=True)
        if cache is not None:
            with contextlib.suppress(Exception):
                cache.close()
        self._next_check = 0.0

    def __repr__(self) -> str:
        return (f"<CrossProcessFlight {self.directory} waited={self.waited} "
                f"timed_out={self.timed_out}>")
