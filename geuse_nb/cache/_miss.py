"""The miss path of a ``TieredCache``: one fetch for concurrent identical misses, in this
process and across processes, and the look again that a lost race needs.

``TieredCache.single_flight`` and ``__contains__`` delegate here; this module owns the
rule of where a miss looks again before it fetches:

- after another *process's* fetch (it waited on the key's cross-process lock,
  ``_xflight.py``): everywhere, the disk included, since that process stored there
  before releasing;
- after a fetch in *this* process ended since the caller's lookup (``flight.epoch``
  moved): only where a store here lands at once (the memory tier, the writer's queue),
  since a disk read per miss cost ~60 µs of CPU at 64 threads against 6 alone;
- otherwise nowhere: the caller's own lookup just missed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._tier import DEFAULT_KIND, _usable

if TYPE_CHECKING:
    from .tiered import TieredCache


def single_flight(cache: TieredCache, key: str, fetch: Callable[[], Any], *,
                  kind: str | None, since: int | None) -> tuple[Any, bool]:
    """``TieredCache.single_flight`` (see there): ``(value, sent_nothing)``."""
    def lead() -> tuple[Any, bool]:
        xflight = cache.xflight if cache.disk_state.usable else None
        held = xflight.acquire(key) if xflight is not None else None
        waited = held is not None and held.waited
        try:
            look = waited or since is None
            if (look or since != cache.flight.epoch) and holds(cache, key, everywhere=look):
                found = cache.lookup(key, kind=kind)
                if found.hit:
                    if waited and cache._recorder is not None:
                        cache._recorder.count("cache.xflight_shared")
                    return found.value, True
            if waited and xflight is not None and held is not None:
                xflight.release(held)  # nothing left on disk: fetch as if unlocked
                held = None
            value = fetch()
            behind = cache._behind
            if held is not None and held.token and behind is not None:  # locked: on disk
                for tier in cache.tiers:  # before the lock is released
                    if tier.behind and tier.usable:
                        behind.write_now(tier, key)
            return value, False
        finally:
            if held is not None and xflight is not None:
                xflight.release(held)

    (value, stored), shared = cache.flight.do(key, lead)
    if shared and cache._recorder is not None:
        cache._recorder.count("cache.flight_shared")
    return value, shared or stored


def holds(cache: TieredCache, key: str, *, everywhere: bool) -> bool:
    """True when a tier has a fresh entry for ``key``; with ``everywhere`` False, only the
    tiers where a store in this process lands at once (and the writer's queue)."""
    now, behind = cache._clock(), cache._behind
    everywhere = everywhere or behind is None or all(t.behind for t in cache.tiers)
    for tier in cache.tiers:
        if tier.usable:
            queued = tier.behind and behind is not None
            entry = behind.get(tier, key) if queued and behind is not None else None
            if entry is None and (everywhere or not queued):
                entry = tier.get(key, DEFAULT_KIND)
            if entry is not None and _usable(entry.fresh_until, now, 0.0):
                return True
    return False
