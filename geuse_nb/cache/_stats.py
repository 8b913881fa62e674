"""The cache's stats table: the composer's counters joined with what each tier reports.

Kept apart so that importing the cache does not import pandas and numpy (~0.3 s):
only ``TieredCache.stats()`` needs them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._tier import TierRow

COLUMNS = ["tier", "kind", "hits", "misses", "hit_rate", "entries", "bytes", "evictions",
           "errors", "mean_us", "p95_us"]


def stats_frame(tiers: Sequence[tuple[str, bool, Mapping[str, TierRow]]],
                hits: Mapping[tuple[str, str], int], misses: Mapping[tuple[str, str], int],
                samples: Sequence[tuple[str, str, float]], *, disk_state: str,
                directory: str) -> pd.DataFrame:
    """One row per (tier, kind) from ``tiers`` (name, observes evictions, rows per kind),
    the hit/miss counters and the latency samples (tier, kind, seconds)."""
    latency: dict[tuple[str, str], list[float]] = {}
    for tier, kind, seconds in samples:
        latency.setdefault((tier, kind), []).append(seconds * 1e6)
    rows: list[dict[str, Any]] = []
    for tier, observes_evictions, inventory in tiers:
        kinds = {k for (t, k) in (*hits, *misses, *latency) if t == tier} | set(inventory)
        for kind in sorted(kinds):
            h, m = hits.get((tier, kind), 0), misses.get((tier, kind), 0)
            lat = latency.get((tier, kind), [])
            row = inventory.get(kind, TierRow())
            rows.append({
                "tier": tier, "kind": kind, "hits": h, "misses": m,
                "hit_rate": h / (h + m) if h + m else float("nan"),
                "entries": row.entries, "bytes": row.bytes,
                "evictions": row.evictions if observes_evictions else pd.NA,
                "errors": row.errors,
                "mean_us": float(np.mean(lat)) if lat else float("nan"),
                "p95_us": float(np.percentile(lat, 95)) if lat else float("nan"),
            })
    frame = pd.DataFrame(rows, columns=COLUMNS)
    first = tiers[0][0] if tiers else None  # every lookup passes the first tier
    lookups = sum(v for (t, _), v in (*hits.items(), *misses.items()) if t == first)
    frame.attrs.update({
        "hit_rate": sum(hits.values()) / lookups if lookups else float("nan"),
        "lookups": lookups, "disk_state": disk_state, "directory": directory,
    })
    return frame


def sum_tallies(tallies: Sequence[Counter[tuple[str, str, bool]]],
                ) -> tuple[Counter[tuple[str, str]], Counter[tuple[str, str]]]:
    """(hits, misses) per (tier, kind), summed over the per-thread tallies."""
    hits: Counter[tuple[str, str]] = Counter()
    misses: Counter[tuple[str, str]] = Counter()
    for tally in tallies:
        for (tier, kind, hit), n in dict(tally).items():  # dict(): one atomic copy
            (hits if hit else misses)[tier, kind] += n
    return hits, misses
