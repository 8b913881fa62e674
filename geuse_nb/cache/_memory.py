"""The memory tier: a ``cachetools.LRUCache`` of entries behind one lock.

cachetools is not thread-safe, so every access holds the lock; a hit is a dict lookup,
an LRU reorder and nothing else (the composer adds its counter bump) — a few µs.
Values are kept by reference, not copied: treat cached responses as read-only.
Evictions by the LRU are counted per kind, the one figure diskcache cannot give.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import cachetools

from ._tier import Entry, Tier, TierRow, TierSetup


class _CountingLRU(cachetools.LRUCache):  # cachetools has no stubs: an Any base class
    """An LRU that reports each eviction's kind (it runs under the tier's lock)."""

    def __init__(self, maxsize: int, on_evict: Callable[[str], None]) -> None:
        super().__init__(maxsize)
        self._on_evict = on_evict

    def popitem(self) -> tuple[Any, Any]:
        key, entry = super().popitem()
        self._on_evict(entry.kind)
        return key, entry


class MemoryTier(Tier):
    """The fast tier: ``settings.cache_memory_max_items`` entries, least recently used out."""

    name = "memory"

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._lock = threading.Lock()
        self._evictions: Counter[str] = Counter()
        self._lru = _CountingLRU(maxsize, self._count_eviction)

    @classmethod
    def from_setup(cls, setup: TierSetup) -> MemoryTier | None:
        size = int(setup.settings.cache_memory_max_items)
        return cls(size) if size else None

    def get(self, key: str, kind: str) -> Entry | None:
        with self._lock:
            return self._lru.get(key)

    def set(self, key: str, entry: Entry, *, expire: float, group: str | None,
            payload: bytes | None) -> bool:
        with self._lock:
            self._lru[key] = entry
        return True

    def delete(self, key: str) -> None:
        with self._lock:
            self._lru.pop(key, None)

    def clear(self) -> None:
        with self._lock:  # a new LRU is O(1); clearing one entry by entry is not
            self._lru = _CountingLRU(self.maxsize, self._count_eviction)

    def clear_group(self, prefix: str, group: str, kind: str) -> None:
        with self._lock:
            for key in [k for k in self._lru if k.startswith(prefix)]:
                self._lru.pop(key, None)

    def stats(self) -> Mapping[str, TierRow]:
        with self._lock:
            inventory: dict[str, list[int]] = {}
            for entry in self._lru.values():
                slot = inventory.setdefault(entry.kind, [0, 0])
                slot[0] += 1
                slot[1] += entry.nbytes
            evictions = dict(self._evictions)
        return {kind: TierRow(entries=inventory.get(kind, (0, 0))[0],
                              bytes=inventory.get(kind, (0, 0))[1],
                              evictions=evictions.get(kind, 0))
                for kind in {*inventory, *evictions}}

    def __len__(self) -> int:
        return len(self._lru)

    def _count_eviction(self, kind: str) -> None:
        self._evictions[kind] += 1  # called by the LRU, under self._lock

    def after_fork(self) -> None:
        self._lock = threading.Lock()
