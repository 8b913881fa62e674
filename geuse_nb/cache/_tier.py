"""The one small interface a cache tier implements, the entry it keeps, and the tier registry.

Shaped like diskcache's ``FanoutCache`` over its ``Cache`` shards: ``TieredCache`` holds a
list of tiers (fastest first) and writes each operation once over that list; a tier is a
dumb store that keeps ``Entry`` tuples and never judges freshness (the TTL check lives in
``TieredCache`` alone). A tier guards itself against threads and turns its own failures
into misses (one warning), so the composer never handles a tier's exceptions.

Which tiers a cache has comes from an ordered registry of constructors, as joblib's
``register_parallel_backend``: ``register_tier("mine", factory, before="disk")`` and every
``TieredCache`` (the Kit's included) made afterwards has it. A factory takes a
``TierSetup`` and returns a tier, or None when the settings turn that tier off.
"""

from __future__ import annotations

import abc
import dataclasses
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import UsageError, did_you_mean

if TYPE_CHECKING:
    from ..config import Settings
    from ..observe.metrics import Recorder

DEFAULT_KIND = "default"  # the stats label of entries stored without a kind


class Entry(NamedTuple):
    """One cached value and what the tiers need to know about it.

    A plain tuple underneath: a memory hit reads it without building anything (a
    frozen dataclass would cost ~1 µs per store and promotion).
    """

    value: Any
    fresh_until: float  # epoch seconds (the cache's clock)
    written_at: float
    kind: str           # the stats label (DEFAULT_KIND when stored without a kind)
    nbytes: int         # pickled size, 0 when unknown


class Write(NamedTuple):
    """One ``Tier.set`` held back for a batch (``set_many``): its arguments."""

    key: str
    entry: Entry
    expire: float
    group: str | None
    payload: bytes | None


@dataclasses.dataclass(frozen=True, slots=True)
class TierRow:
    """What a tier knows about one kind for ``stats()``."""

    entries: int = 0
    bytes: int = 0
    evictions: int = 0
    errors: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class TierSetup:
    """What a tier factory is given: the settings, a recorder for counters, the clock and
    the disk tier's diskcache eviction policy."""

    settings: Settings
    recorder: Recorder | None = None
    disk_eviction_policy: str = "least-recently-stored"


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


def _usable(fresh_until: float, now: float, grace: float) -> bool:
    """THE freshness rule: fresh, or expired at most ``grace`` seconds ago."""
    age = now - fresh_until
    return age < 0 or (grace > 0 and age <= grace)


class Tier(abc.ABC):
    """One storage level. Every method is thread-safe and never raises for a storage
    failure (it counts an error and answers as a miss / does nothing).

    ``usable`` is a plain attribute (read on every lookup): a tier that became unusable
    (a disk that cannot be opened) is skipped and left out of ``stats()``.
    ``observes_evictions`` False shows its evictions as missing (NA) in ``stats()``.
    ``behind`` True marks a slow tier: with ``cache_write_behind`` on, ``TieredCache``
    queues its writes for one background writer (``_behind.py``), which hands them over
    in batches through ``set_many``.
    """

    name: str = "tier"
    usable: bool = True
    observes_evictions: bool = True
    behind: bool = False

    @abc.abstractmethod
    def get(self, key: str, kind: str) -> Entry | None:
        """The entry under ``key`` whatever its age, or None; ``kind`` labels errors."""

    @abc.abstractmethod
    def set(self, key: str, entry: Entry, *, expire: float, group: str | None,
            payload: bytes | None) -> bool:
        """Keep ``entry``; ``expire`` s is how long it is worth keeping at all (TTL + stale
        bound); ``payload`` is the value's pickle when the caller made one. True if kept."""

    def set_many(self, writes: Sequence[Write]) -> None:
        """Several ``set``s in the order given (a slow tier makes it one transaction)."""
        for w in writes:
            self.set(w.key, w.entry, expire=w.expire, group=w.group, payload=w.payload)

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Drop one entry (absent: nothing happens)."""

    @abc.abstractmethod
    def clear(self) -> None:
        """Drop every entry."""

    @abc.abstractmethod
    def clear_group(self, prefix: str, group: str, kind: str) -> None:
        """Drop the entries stored with ``group`` (their keys start with ``prefix``)."""

    @abc.abstractmethod
    def stats(self) -> Mapping[str, TierRow]:
        """Entries, bytes, evictions and errors per kind label."""

    def __len__(self) -> int:
        return sum(row.entries for row in self.stats().values())

    def close(self) -> None:  # noqa: B027 - optional hook: most tiers hold nothing to close
        """Release handles (the tier is reopened if used again)."""

    def thread_done(self) -> None:  # noqa: B027 - optional hook
        """The calling thread (the write-behind writer) is ending: release what the tier
        holds for it alone (the disk tier: its per-thread SQLite connection)."""

    def after_fork(self) -> None:  # noqa: B027 - optional hook
        """In a forked child: drop locks and handles inherited from the parent."""


TierFactory = Callable[[TierSetup], "Tier | None"]

_registry: dict[str, TierFactory] = {}
_registry_lock = threading.Lock()


def register_tier(name: str, factory: TierFactory, *, before: str | None = None) -> None:
    """Add (or replace) a tier constructor. Tiers are consulted in registry order, fastest
    first; ``before`` puts a new one ahead of a registered tier (default: last)."""
    with _registry_lock:
        if before is not None and before not in _registry:
            raise UsageError(f"before={before!r} is not a registered tier"
                             f"{did_you_mean(before, _registry)}",
                             suggestion="use one of " + ", ".join(_registry))
        items = [(n, f) for n, f in _registry.items() if n != name]
        at = next((i for i, (n, _) in enumerate(items) if n == before), len(items))
        items.insert(at, (name, factory))
        _registry.clear()
        _registry.update(items)


def unregister_tier(name: str) -> None:
    """Remove a tier constructor (caches already built keep their tiers)."""
    with _registry_lock:
        if name not in _registry:
            raise UsageError(f"no tier {name!r} is registered{did_you_mean(name, _registry)}",
                             suggestion="registered tiers: " + ", ".join(_registry))
        del _registry[name]


def tier_factories() -> list[tuple[str, TierFactory]]:
    """The registered tiers, in lookup order."""
    with _registry_lock:
        return list(_registry.items())


def check_ttl(ttl: object) -> None:
    """The one check of a caller's ``ttl``: a number of seconds ≥ 0."""
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl >= 0:
        raise UsageError(f"ttl={ttl!r} is not valid",
                         suggestion="pass a number of seconds ≥ 0 (0 = do not cache)")


class WarnOnce:
    """The first time a thing happens it is logged at its level; afterwards at debug."""

    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger
        self._seen: set[str] = set()

    def __call__(self, what: str, level: int, message: str, *args: Any) -> None:
        first = what not in self._seen
        self._seen.add(what)
        self._log.log(level if first else logging.DEBUG, message, *args, stacklevel=2)
