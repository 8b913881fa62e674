"""Tiered cache for AWS reads: an in-memory LRU in front of a disk cache (diskcache).

Keys come from ``geuse_nb.cache.keys`` (one builder for every cached path); ``kit.cached``
lives in ``geuse_nb.cache.memoize``. Entries carry their own expiry (TTL by kind:
``Settings.ttl_for``) and their write time, and are kept
``settings.stale_for(kind)`` seconds past expiry so that
``lookup(allow_stale=...)`` can serve a stale answer when AWS fails.

Design notes (why it looks like this):

- Memory tier: ``cachetools.LRUCache`` guarded by one lock (cachetools is not
  thread-safe); a hit is a dict lookup, a counter bump and a deque append — a few µs.
  Values are returned by reference, not copied: treat cached responses as read-only.
- Disk tier: ``diskcache.Cache`` (SQLite + files; safe across threads and processes)
  under ``<cache_dir>/tiered-v1``, created 0700. Values are pickled here, with a
  small header (write time, expiry, flags) and zlib above 4 KB when
  ``cache_compression_enabled``. Eviction defaults to least-recently-*stored*:
  diskcache's least-recently-used turns every disk read into a write transaction
  (measured ~100 µs vs ~10 µs per read, and readers in other processes queue behind
  it); disk reads are promoted into the memory tier, which is the LRU that matters.
- Failure is never the user's problem: a corrupt entry, a corrupt or unusable cache
  directory logs one warning and is a miss; a corrupt directory is moved aside to
  ``tiered-v1.corrupt-<ts>`` and rebuilt, an unusable ``cache_dir`` (e.g. a file sits
  there) leaves the cache memory-only for the session. Memory entries survive.
- Credentials never enter the cache: keys are built from a scope label, not
  secrets, and a value whose pickle mentions ``SecretAccessKey``/``SessionToken``
  (e.g. ``sts.get_session_token``) is refused with a warning.
- A ``TieredCache`` pickles as its settings only (the disk handle is per process and
  rebuilt after ``fork``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import pickle
import re
import sqlite3
import struct
import threading
import time
import weakref
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cachetools
import diskcache

from ..errors import UsageError
from .keys import Scope, make_key, scope_label

if TYPE_CHECKING:
    import pandas as pd

    from ..config import Settings
    from ..observe.metrics import Recorder

log = logging.getLogger(__name__)

DISK_SUBDIR = "tiered-v1"
DEFAULT_KIND = "default"
COMPRESS_THRESHOLD = 4096
EVICTION_POLICIES = ("least-recently-stored", "least-recently-used")
TIERS = ("memory", "disk", "all")
LATENCY_SAMPLES = 8192

_MAGIC = b"GNC1"
_HEADER = struct.Struct("<4sBdd")  # magic, flags, written_at, fresh_until
_FLAG_ZLIB = 1
_SECRET_MARKERS = re.compile(
    rb"SecretAccessKey|SessionToken|aws_secret_access_key|aws_session_token"
)
_TRANSIENT = ("locked", "busy")


@dataclasses.dataclass(slots=True)
class CacheLookup:
    """The answer of ``TieredCache.lookup``: ``hit``, the ``value``, which ``tier``
    served it ("memory"/"disk") and whether it is ``stale`` (served past expiry).

    Not frozen on purpose: a frozen dataclass costs ~1 µs more to build, a quarter
    of a memory hit. Treat it as read-only.
    """

    hit: bool
    value: Any = None
    tier: str | None = None
    stale: bool = False


_MISS = CacheLookup(False)


# ---------------------------------------------------------------- memory tier


class _MemoryTier(cachetools.LRUCache):  # type: ignore[type-arg]
    """An LRU whose evictions are counted per kind (entries are tuples; [3] is the kind)."""

    def __init__(self, maxsize: int, on_evict: Callable[[str], None]) -> None:
        super().__init__(maxsize)
        self._on_evict = on_evict

    def popitem(self) -> tuple[Any, Any]:
        key, entry = super().popitem()
        self._on_evict(entry[3])
        return key, entry


# ---------------------------------------------------------------- the cache


class TieredCache:
    """Memory LRU + disk cache with per-entry TTL, stale-if-error, stats and memoize.

    ``clock`` (default ``time.time``) decides freshness; tests inject a fake one.
    ``disk_eviction_policy`` is diskcache's policy for the disk tier.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        recorder: Recorder | None = None,
        clock: Callable[[], float] = time.time,
        disk_eviction_policy: str = "least-recently-stored",
    ) -> None:
        if disk_eviction_policy not in EVICTION_POLICIES:
            raise UsageError(f"disk_eviction_policy={disk_eviction_policy!r} is not known",
                             suggestion="use one of " + ", ".join(EVICTION_POLICIES))
        self.settings = settings
        self._recorder = recorder
        self._clock = clock
        self._policy = disk_eviction_policy
        self._lock = threading.Lock()
        self._disk_lock = threading.Lock()
        size = int(settings.cache_memory_max_items)
        self._mem: _MemoryTier | None = _MemoryTier(size, self._count_eviction) if size else None
        self._disk: diskcache.Cache | None = None
        self._disk_pid = 0
        self._disk_state = "closed" if settings.cache_disk_enabled else "off"
        self._resets = 0
        self._hits: Counter[tuple[str, str]] = Counter()
        self._misses: Counter[tuple[str, str]] = Counter()
        self._evictions: Counter[tuple[str, str]] = Counter()
        self._errors: Counter[tuple[str, str]] = Counter()
        self._latency: deque[tuple[str, str, float]] = deque(maxlen=LATENCY_SAMPLES)
        self._warned: set[str] = set()
        self._fetch: Callable[[dict[str, Any]], Any] | None = None
        self._pmap: Callable[..., Any] | None = None
        self._scope: str | None = None
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _after_fork(ref))

    # ------------------------------------------------------------ properties
    @property
    def enabled(self) -> bool:
        """False when both tiers are off (memoize then calls straight through)."""
        return self._mem is not None or self.settings.cache_disk_enabled

    @property
    def directory(self) -> Path:
        """Where the disk tier lives: ``<cache_dir>/tiered-v1``."""
        return Path(self.settings.cache_dir) / DISK_SUBDIR

    @property
    def disk_state(self) -> str:
        """``off`` (disabled), ``closed`` (not opened yet), ``ok`` or ``unusable``."""
        return self._disk_state

    # ------------------------------------------------------------ lookup
    def lookup(self, key: str, *, kind: str | None = None,
               allow_stale: float = 0.0) -> CacheLookup:
        """Memory, then disk. ``allow_stale`` (s) also serves an entry that expired at most
        that long ago (capped by ``settings.stale_for(kind)``, how long entries are kept).
        """
        start = time.perf_counter()
        label = kind or DEFAULT_KIND
        now = self._clock()
        kept = self.settings.stale_for(kind)
        grace = min(allow_stale, kept) if allow_stale else 0.0
        mem = self._mem
        if mem is not None:
            with self._lock:
                entry = mem.get(key)
                if entry is not None:
                    age = now - entry[1]
                    if age < 0 or (grace and age <= grace):
                        self._hits["memory", label] += 1
                        self._latency.append(("memory", label, time.perf_counter() - start))
                        return CacheLookup(True, entry[0], "memory", age >= 0)
                    if age > kept:
                        del mem[key]
                self._misses["memory", label] += 1
        if self._disk_state == "off" or self._disk_state == "unusable":
            if mem is not None:
                self._latency.append(("memory", label, time.perf_counter() - start))
            return _MISS
        found = self._disk_read(key, label, now, grace)
        with self._lock:
            if found is None:
                self._misses["disk", label] += 1
            else:
                self._hits["disk", label] += 1
                if mem is not None:
                    mem[key] = (found[0], found[1], found[2], label, found[3])
        self._latency.append(("disk", label, time.perf_counter() - start))
        if found is None:
            return _MISS
        return CacheLookup(True, found[0], "disk", now >= found[1])

    def __contains__(self, key: str) -> bool:
        """True when ``key`` has a fresh entry in either tier (no stats, no promotion)."""
        now = self._clock()
        mem = self._mem
        if mem is not None:
            with self._lock:
                entry = mem.get(key)
            if entry is not None and now < entry[1]:
                return True
        if self._disk_state in ("off", "unusable"):
            return False
        return self._disk_read(key, DEFAULT_KIND, now, 0.0, decode=False) is not None

    def contains(self, key: str) -> bool:
        """Same as ``key in cache``."""
        return key in self

    # ------------------------------------------------------------ store
    def store(self, key: str, value: Any, *, kind: str | None = None,
              ttl: float | None = None, group: str | None = None) -> bool:
        """Keep ``value`` under ``key`` for ``ttl`` s (default: the kind's TTL) in both tiers;
        entries stored with a ``group`` can be dropped together (``clear_group``).

        Returns False when nothing was stored: caching off, ``ttl`` 0, or a value that
        looks like credentials (refused, with a warning).
        """
        if ttl is None:
            ttl = self.settings.ttl_for(kind)
        elif isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl >= 0:
            raise UsageError(f"ttl={ttl!r} is not valid",
                             suggestion="pass a number of seconds ≥ 0 (0 = do not cache)")
        if ttl <= 0 or not self.enabled:
            return False
        label = kind or DEFAULT_KIND
        now = self._clock()
        fresh_until = now + float(ttl)
        try:
            payload: bytes | None = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # unpicklable: memory only
            self._warn_once("unpicklable", logging.DEBUG,
                            "geuse_nb cache: %s is not picklable (%s); kept in memory only",
                            key, exc)
            payload = None
        if payload is not None and _SECRET_MARKERS.search(payload):
            self._warn_once(
                f"secret:{key.split(':', 1)[0]}", logging.WARNING,
                "geuse_nb cache: refused to cache %s: the value contains credentials "
                "(SecretAccessKey/SessionToken); it is never written to memory or disk",
                key.split(":", 1)[0])
            self.evict(key)
            return False
        nbytes = len(payload) if payload is not None else 0
        mem = self._mem
        if mem is not None:
            with self._lock:
                mem[key] = (value, fresh_until, now, label, nbytes)
        if payload is None or self._disk_state in ("off", "unusable"):
            return mem is not None
        flags = 0
        if self.settings.cache_compression_enabled and nbytes >= COMPRESS_THRESHOLD:
            packed = zlib.compress(payload, 1)
            if len(packed) < nbytes:
                payload, flags = packed, _FLAG_ZLIB
        blob = _HEADER.pack(_MAGIC, flags, now, fresh_until) + payload
        tag = label if group is None else f"{label}#{group}"
        expire = float(ttl) + self.settings.stale_for(kind)
        disk = self._disk_handle()
        if disk is None:
            return mem is not None
        try:
            if not disk.set(key, blob, expire=expire, tag=tag, retry=True):
                self._count_error("disk", label)
                log.debug("geuse_nb cache: disk set of %s returned False", key)
                return mem is not None
        except Exception as exc:
            self._disk_failed(disk, exc, label)
            return mem is not None
        return True

    # ------------------------------------------------------------ evict / clear
    def evict(self, key: str) -> None:
        """Drop one entry from both tiers (see ``memoized.key(...)`` to find a key)."""
        mem = self._mem
        if mem is not None:
            with self._lock:
                mem.pop(key, None)
        self._on_disk(lambda disk: disk.delete(key, retry=True))

    def clear(self, tier: str = "all") -> None:
        """Empty the ``"memory"`` tier, the ``"disk"`` tier or ``"all"``. Stats are kept."""
        if tier not in TIERS:
            raise UsageError(f"cache tier {tier!r} is not known",
                             suggestion="use 'memory', 'disk' or 'all'")
        if tier in ("memory", "all") and self._mem is not None:
            with self._lock:
                self._mem = _MemoryTier(self._mem.maxsize, self._count_eviction)
        if tier in ("disk", "all"):
            self._on_disk(lambda disk: disk.clear(retry=True))

    def clear_group(self, prefix: str, group: str, kind: str | None = None) -> None:
        """Drop every entry stored with ``group`` (its keys start with ``prefix``)."""
        tag = f"{kind or DEFAULT_KIND}#{group}"
        mem = self._mem
        if mem is not None:
            with self._lock:
                for key in [k for k in mem if k.startswith(prefix)]:
                    mem.pop(key, None)
        self._on_disk(lambda disk: disk.evict(tag, retry=True))

    # ------------------------------------------------------------ stats
    def stats(self) -> pd.DataFrame:
        """One row per (tier, kind): hits, misses, hit_rate, entries, bytes, evictions,
        errors, and lookup latency mean/p95 in µs (lookups that ended in that tier;
        a miss counts toward the last tier consulted). ``attrs`` has the overall
        ``hit_rate``, ``lookups`` and ``disk_state``. Disk evictions are not observable
        through diskcache and read as missing (NA).
        """
        import numpy as np
        import pandas as pd

        with self._lock:
            hits, misses = dict(self._hits), dict(self._misses)
            evictions, errors = dict(self._evictions), dict(self._errors)
            samples = list(self._latency)
            mem_inventory: dict[str, list[int]] = {}
            for entry in (self._mem.values() if self._mem is not None else ()):
                slot = mem_inventory.setdefault(entry[3], [0, 0])
                slot[0] += 1
                slot[1] += entry[4]
        disk_inventory = self._disk_inventory()
        latency: dict[tuple[str, str], list[float]] = {}
        for tier, label, seconds in samples:
            latency.setdefault((tier, label), []).append(seconds * 1e6)
        tiers = []
        if self._mem is not None:
            tiers.append(("memory", mem_inventory))
        if self._disk_state not in ("off", "unusable"):
            tiers.append(("disk", disk_inventory))
        rows = []
        for tier, inventory in tiers:
            labels = {lb for (t, lb) in (*hits, *misses, *evictions, *errors, *latency)
                      if t == tier} | set(inventory)
            for label in sorted(labels):
                h, m = hits.get((tier, label), 0), misses.get((tier, label), 0)
                lat = latency.get((tier, label), [])
                entries, nbytes = inventory.get(label, (0, 0))
                rows.append({
                    "tier": tier, "kind": label, "hits": h, "misses": m,
                    "hit_rate": h / (h + m) if h + m else float("nan"),
                    "entries": entries, "bytes": nbytes,
                    "evictions": evictions.get((tier, label), 0) if tier == "memory" else pd.NA,
                    "errors": errors.get((tier, label), 0),
                    "mean_us": float(np.mean(lat)) if lat else float("nan"),
                    "p95_us": float(np.percentile(lat, 95)) if lat else float("nan"),
                })
        columns = ["tier", "kind", "hits", "misses", "hit_rate", "entries", "bytes",
                   "evictions", "errors", "mean_us", "p95_us"]
        frame = pd.DataFrame(rows, columns=columns)
        total_hits = sum(hits.values())
        first = "memory" if self._mem is not None else "disk"  # every lookup passes it
        lookups = sum(v for (t, _), v in (*hits.items(), *misses.items()) if t == first)
        frame.attrs.update({
            "hit_rate": total_hits / lookups if lookups else float("nan"),
            "lookups": lookups, "disk_state": self._disk_state,
            "directory": str(self.directory),
        })
        return frame

    def _disk_inventory(self) -> dict[str, list[int]]:
        """Entries and bytes per kind on disk, read from diskcache's index (read-only)."""
        inventory: dict[str, list[int]] = {}
        if self._disk_state != "ok":
            return inventory
        path = self.directory / diskcache.core.DBNAME
        try:
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True,
                                                    timeout=5)) as con:
                rows = con.execute(
                    "SELECT tag, COUNT(*), SUM(size + COALESCE(LENGTH(value), 0)) FROM Cache"
                    " WHERE expire_time IS NULL OR expire_time > ? GROUP BY tag",
                    (time.time(),)).fetchall()
        except sqlite3.Error as exc:
            log.debug("geuse_nb cache: disk inventory unavailable (%s)", exc)
            return inventory
        for tag, count, nbytes in rows:
            label = str(tag).split("#", 1)[0] if tag else DEFAULT_KIND
            slot = inventory.setdefault(label, [0, 0])
            slot[0] += int(count)
            slot[1] += int(nbytes or 0)
        return inventory

    # ------------------------------------------------------------ memoize
    def memoize(self, fn: Callable[..., Any] | None = None, *, ttl: float | None = None,
                kind: str | None = None, ignore: Iterable[str] = (),
                scope: Scope = "") -> Any:
        """Cache a function's results in this cache; with or without parentheses.

        The decorated function has ``.clear()``, ``.key(*args, **kwargs)`` and
        ``.evict(*args, **kwargs)``. ``ignore`` names arguments left out of the key (a
        client, a progress bar). Exceptions are not cached. When caching is off the
        wrapper calls straight through with the same API.
        """
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int | float)
                                or not ttl >= 0):
            raise UsageError(f"ttl={ttl!r} is not valid",
                             suggestion="pass a number of seconds ≥ 0 (0 = do not cache)")
        if fn is None:
            return functools.partial(self.memoize, ttl=ttl, kind=kind, ignore=ignore,
                                     scope=scope)
        if not callable(fn):
            raise UsageError(f"cannot memoize {fn!r}: it is not callable",
                             suggestion="decorate a function: @kit.cached or @kit.cached(ttl=60)")
        from .memoize import Memoized

        return Memoized(self, fn, ttl=ttl, kind=kind, ignore=tuple(ignore), scope=scope)

    # ------------------------------------------------------------ warm
    def attach(self, *, fetch: Callable[[dict[str, Any]], Any],
               pmap: Callable[..., Any] | None = None, scope: Scope | None = None) -> None:
        """Give ``warm`` its call function (``fetch(call_spec) -> value``, which caches),
        a parallel map (``pmap(fn, items, desc=..., n_jobs=...)``) and the key scope
        (a label, or a function returning it, asked when a key is built)."""
        self._fetch, self._pmap, self._scope = fetch, pmap, scope

    def warm(self, calls: Iterable[Any], *, n_jobs: int | None = None) -> pd.DataFrame:
        """Fill the cache by running ``calls`` in parallel → one row per call.

        A call is ``{"service", "operation", "region", "params"}`` or a tuple
        ``(service, operation[, region[, params]])``. Failures are rows with
        ``ok=False`` and the error, never an exception.
        """
        import pandas as pd

        fetch = self._fetch
        if fetch is None:
            raise UsageError("cache.warm has nothing to call AWS with",
                             suggestion="use kit.cache.warm(...) (the Kit attaches its call "
                                        "path) or call cache.attach(fetch=..., pmap=...)")
        specs = [_call_spec(item, i) for i, item in enumerate(calls)]
        before: list[bool | None] = [None] * len(specs)
        if self._scope is not None:
            scope = scope_label(self._scope)
            for i, spec in enumerate(specs):
                if spec["region"] is not None:
                    key = make_key(scope=scope, region=spec["region"],
                                   service=spec["service"], operation=spec["operation"],
                                   params=spec["params"])
                    before[i] = key in self

        def one(spec: dict[str, Any]) -> tuple[bool, float, str | None]:
            started = time.perf_counter()
            try:
                fetch(spec)
            except Exception as exc:  # a warm run reports failures, it does not stop
                return False, time.perf_counter() - started, f"{type(exc).__name__}: {exc}"
            return True, time.perf_counter() - started, None

        timer = (self._recorder.timer("cache.warm", "cache") if self._recorder is not None
                 else contextlib.nullcontext())
        with timer:
            if self._pmap is not None and specs:
                results = list(self._pmap(one, specs, desc="cache warm", n_jobs=n_jobs))
            else:
                results = [one(spec) for spec in specs]
        rows = []
        for spec, was, result in zip(specs, before, results, strict=True):
            ok, seconds, error = result if result is not None else (False, float("nan"),
                                                                    "job did not finish")
            rows.append({"service": spec["service"], "operation": spec["operation"],
                         "region": spec["region"], "params": spec["params"], "ok": ok,
                         "cached_before": was, "seconds": seconds, "error": error})
        return pd.DataFrame(rows, columns=["service", "operation", "region", "params", "ok",
                                           "cached_before", "seconds", "error"])

    # ------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Close the disk handle (re-opened if the cache is used again). Idempotent."""
        with self._disk_lock:
            disk, self._disk = self._disk, None
            if self._disk_state == "ok":
                self._disk_state = "closed"
        if disk is not None:
            with contextlib.suppress(Exception):
                disk.close()

    def __enter__(self) -> TieredCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickles as its settings only: the disk handle and memory stay in this process.
        In the receiving process every copy of the same settings is one cache."""
        return (_restore_cache, (self.settings, self._policy))

    def __repr__(self) -> str:
        size = len(self._mem) if self._mem is not None else 0
        return f"<TieredCache memory={size} disk={self._disk_state} at {self.directory}>"

    # ------------------------------------------------------------ disk internals
    def _on_disk(self, op: Callable[[diskcache.Cache], Any]) -> None:
        """Run ``op`` on the disk tier when there is one; a failure is one warning, never an
        error (the shared path of evict, clear and clear_group)."""
        disk = self._disk_handle()
        if disk is None:
            return
        try:
            op(disk)
        except Exception as exc:
            self._disk_failed(disk, exc, DEFAULT_KIND)

    def _disk_handle(self) -> diskcache.Cache | None:
        disk = self._disk
        if disk is not None and self._disk_pid == os.getpid():
            return disk
        if self._disk_state in ("off", "unusable"):
            return None
        with self._disk_lock:
            if self._disk is None or self._disk_pid != os.getpid():
                self._disk = self._open_disk()
                self._disk_pid = os.getpid()
            return self._disk

    def _open_disk(self) -> diskcache.Cache | None:
        """Open (or create 0700) the disk tier; a corrupt one is moved aside and rebuilt,
        an unusable ``cache_dir`` leaves the cache memory-only. Called under the disk lock."""
        root = Path(self.settings.cache_dir)
        path = self.directory
        try:
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            return self._unusable(f"cache_dir {root} cannot be created ({exc})")
        if not root.is_dir():
            return self._unusable(f"cache_dir {root} is not a directory")
        for attempt in (1, 2):
            try:
                if path.exists() and not path.is_dir():
                    raise NotADirectoryError(f"{path} is not a directory")
                path.mkdir(mode=0o700, exist_ok=True)
                os.chmod(path, 0o700)
                disk = diskcache.Cache(
                    str(path), timeout=60, size_limit=int(self.settings.cache_disk_size_limit),
                    eviction_policy=self._policy,
                )
                disk.get("geuse:probe", retry=True)  # touches the index: fails if corrupt
            except Exception as exc:
                if attempt == 2 or not self._move_aside(path, exc):
                    return self._unusable(f"disk cache at {path} cannot be opened ({exc})")
                continue
            self._disk_state = "ok"
            return disk
        return None  # pragma: no cover - the loop always returns

    def _move_aside(self, path: Path, exc: BaseException) -> bool:
        target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}"
                                f"-{os.getpid()}-{self._resets}")
        self._resets += 1
        try:
            path.rename(target)
        except FileNotFoundError:
            pass  # another process moved it already
        except OSError as move_error:
            log.debug("geuse_nb cache: could not move %s aside: %s", path, move_error)
            return False
        self._warn_once("corrupt-dir", logging.WARNING,
                        "geuse_nb cache: disk cache at %s was corrupt or unreadable (%s); "
                        "moved it aside to %s and started an empty one", path, exc, target)
        if self._recorder is not None:
            self._recorder.count("cache.disk_rebuilds")
        return True

    def _unusable(self, why: str) -> None:
        self._disk_state = "unusable"
        self._warn_once("unusable", logging.WARNING,
                        "geuse_nb cache: %s; caching in memory only for this session "
                        "(fix or change cache_dir / GEUSE_CACHE_DIR)", why)
        return None

    def _disk_failed(self, disk: diskcache.Cache, exc: BaseException, label: str) -> None:
        """A disk operation raised: transient lock → miss; anything else → rebuild."""
        self._count_error("disk", label)
        if isinstance(exc, diskcache.Timeout) or any(w in str(exc) for w in _TRANSIENT):
            log.debug("geuse_nb cache: disk busy (%s); treated as a miss", exc)
            return
        with self._disk_lock:
            if self._disk is not disk:
                return  # another thread already rebuilt it
            self._disk = None
            with contextlib.suppress(Exception):
                disk.close()
            if self._resets >= 3 or not self._move_aside(self.directory, exc):
                self._unusable(f"disk cache at {self.directory} keeps failing ({exc})")

    def _disk_read(self, key: str, label: str, now: float, grace: float,
                   *, decode: bool = True) -> tuple[Any, float, float, int] | None:
        """(value, fresh_until, written_at, nbytes) of a usable disk entry, else None."""
        disk = self._disk_handle()
        if disk is None:
            return None
        try:
            blob = disk.get(key, retry=True)
        except Exception as exc:
            self._disk_failed(disk, exc, label)
            return None
        if blob is None:
            return None
        try:
            magic, flags, written_at, fresh_until = _HEADER.unpack_from(blob)
            if magic != _MAGIC:
                raise ValueError("bad header")
            age = now - fresh_until
            if age >= 0 and not (grace and age <= grace):
                return None
            if not decode:
                return (None, fresh_until, written_at, 0)
            payload = memoryview(blob)[_HEADER.size:]
            if flags & _FLAG_ZLIB:
                payload = memoryview(zlib.decompress(payload))
            value = pickle.loads(payload)
        except Exception as exc:
            self._count_error("disk", label)
            self._warn_once("corrupt-entry", logging.WARNING,
                            "geuse_nb cache: corrupt disk entry %s (%s: %s); dropped, "
                            "it will be fetched again", key, type(exc).__name__, exc)
            with contextlib.suppress(Exception):
                disk.delete(key, retry=True)
            return None
        return value, fresh_until, written_at, len(payload)

    # ------------------------------------------------------------ bookkeeping
    def _count_eviction(self, label: str) -> None:
        self._evictions["memory", label] += 1  # called by the LRU under self._lock

    def _count_error(self, tier: str, label: str) -> None:
        with self._lock:
            self._errors[tier, label] += 1
        if self._recorder is not None:
            self._recorder.count("cache.errors")

    def _warn_once(self, what: str, level: int, message: str, *args: Any) -> None:
        """The first time ``what`` happens: ``level``; afterwards: debug only."""
        first = what not in self._warned
        self._warned.add(what)
        log.log(level if first else logging.DEBUG, message, *args)

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        self._disk_lock = threading.Lock()
        self._disk = None
        self._disk_pid = 0
        if self._disk_state == "ok":
            self._disk_state = "closed"


def _after_fork(ref: weakref.ref[TieredCache]) -> None:
    cache = ref()
    if cache is not None:
        cache._after_fork_in_child()


# ---------------------------------------------------------------- memoize


def _call_spec(item: Any, index: int) -> dict[str, Any]:
    """Normalise one warm() call to ``{"service", "operation", "region", "params"}``."""
    hint = ('use {"service": "ec2", "operation": "describe_regions", "region": "us-east-1", '
            '"params": {}} or a tuple (service, operation, region, params)')
    if isinstance(item, Mapping):
        unknown = set(item) - {"service", "operation", "region", "params"}
        if unknown or "service" not in item or "operation" not in item:
            raise UsageError(f"cache.warm: call #{index} {item!r} is not a call spec",
                             suggestion=hint)
        service, operation = item["service"], item["operation"]
        region, params = item.get("region"), item.get("params") or {}
    elif isinstance(item, list | tuple) and 2 <= len(item) <= 4:
        service, operation, region, params = (*item, None, None)[:4]
        params = params or {}
    else:
        raise UsageError(f"cache.warm: call #{index} {item!r} is not a call spec",
                         suggestion=hint)
    if not isinstance(service, str) or not isinstance(operation, str) \
            or not isinstance(params, Mapping) or not (region is None or isinstance(region, str)):
        raise UsageError(f"cache.warm: call #{index} {item!r} has a bad service, operation, "
                         "region or params", suggestion=hint)
    return {"service": service, "operation": operation, "region": region,
            "params": dict(params)}


def _restore_cache(settings: Settings, policy: str) -> TieredCache:
    from .. import shared

    return shared.instance("cache", repr((settings, policy)),
                           lambda: TieredCache(settings, disk_eviction_policy=policy))
