"""Per-pool statistics of a spot price history, time-weighted, in one sort (no loop per pool).

A row is a price change: it holds until the pool's next change, the last until ``now``, and
counts only inside ``[now - days, now]`` (from the pool's first row when ``days`` is None).
See ``_rank``'s docstring for what the figures mean and ``geuse-nb bench spot_rank`` for what
they cost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

POOL = ["region", "availability_zone", "instance_type"]
_NS_PER_HOUR = 3_600 * 10**9


def pool_stats(history: pd.DataFrame, now: pd.Timestamp, days: float | None) -> pd.DataFrame:
    """Per pool: current, time-weighted mean and max price, volatility, hours observed and
    changes counted, from price changes at or before ``now`` (vectorised)."""
    import pandas as pd

    stamps = pd.to_datetime(history["timestamp"], utc=True).to_numpy("datetime64[ns]")
    t_all = stamps.view("int64")
    now_ns = now.as_unit("ns").value
    codes = []
    labels = []
    for column in POOL:  # whole columns (no masked copy of 1M strings); ~0.1 s each at 1M
        code, uniques = pd.factorize(history[column].to_numpy(), sort=False)
        codes.append(code.astype(np.int64))
        labels.append(np.asarray(uniques, dtype=object))
    composite = (codes[0] * (len(labels[1]) + 1) + codes[1]) * (len(labels[2]) + 1) + codes[2]
    pool_id = pd.factorize(composite, sort=False)[0]  # dense 0..P-1, in order of appearance
    rows = np.flatnonzero(t_all <= now_ns)
    if not len(rows):
        return pd.DataFrame(columns=[*POOL, "current_price", "mean_price", "max_price",
                                     "volatility", "hours", "changes"])
    key, t = pool_id[rows], t_all[rows]
    steps = np.diff(key)
    if not ((steps >= 0).all() and (np.diff(t)[steps == 0] >= 0).all()):
        # One quicksort of pool × span + µs since the first row (numpy's stable sorts of
        # int64 are timsort, ~10× slower; np.lexsort((t, key)) ~15× at 1M rows). Rows of one
        # pool with the very same timestamp keep no particular order. history() output is
        # already in (pool, time) order and skips this.
        micros = (t - t.min()) // 1000
        span = int(micros.max()) + 1
        if (int(key.max()) + 1) * span < 2**62:
            order = np.argsort(key * span + micros)
        else:  # a span too long for one int64: two sorts
            order = np.argsort(t, kind="stable")
            order = order[np.argsort(key[order], kind="stable")]
        rows, key, t = rows[order], key[order], t[order]
    p = history["price"].to_numpy(dtype=np.float64)[rows]
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    last = np.r_[first[1:] - 1, len(key) - 1]
    following = np.empty_like(t)
    following[:-1] = t[1:]
    following[last] = now_ns
    start = now_ns - int(days * 24 * _NS_PER_HOUR) if days else np.iinfo(np.int64).min
    held = np.clip(following - np.maximum(t, start), 0, None).astype(np.float64) / _NS_PER_HOUR
    total = np.add.reduceat(held, first)
    current = p[last]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(total > 0, np.add.reduceat(p * held, first) / total, current)
        spread = p - np.repeat(mean, np.diff(np.r_[first, len(key)]))
        var = np.where(total > 0, np.add.reduceat(held * spread * spread, first) / total, 0.0)
        volatility = np.sqrt(var) / mean
    highest = np.maximum.reduceat(np.where(held > 0, p, -np.inf), first)
    o = rows[first]
    return pd.DataFrame({
        "region": labels[0][codes[0][o]], "availability_zone": labels[1][codes[1][o]],
        "instance_type": labels[2][codes[2][o]], "current_price": current,
        "mean_price": mean, "max_price": np.maximum(highest, current),
        "volatility": volatility, "hours": total, "changes": np.diff(np.r_[first, len(key)]),
    })
