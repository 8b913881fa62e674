"""The pick and a failover list: what to launch, and what to try when a launch fails.

Spot capacity runs out per *pool* (one instance type in one AZ), so the next try after an
InsufficientInstanceCapacity should be a different pool that is unlikely to be short at the
same moment. With ``diversify`` the list walks the ranking best first and takes a pool only if
its AZ is not in the list yet (a different AZ is a different capacity pool for every type),
then, when AZs run out, one whose (AZ, type) is new; and the last fallback is the best pool of a
region the list does not have yet, in case the whole region is short (SkyPilot fails over
region by region for the same reason). Without ``diversify`` it is the ranking's top rows.
Each row says in one line why it is there and what it costs relative to the pick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ["role", "order", "region", "availability_zone", "instance_type", "current_price",
           "score", "interruption", "rank", "why"]


def _count(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UsageError(f"{name}={value!r} is not valid",
                         suggestion=f"give a whole number ≥ {low}")
    return value


def _choose(ranked: pd.DataFrame, wanted: int, diversify: bool) -> list[int]:
    rows = list(range(len(ranked)))
    if not diversify:
        return rows[:wanted]
    zones = ranked["availability_zone"].tolist()
    pools = list(zip(zones, ranked["instance_type"].tolist(), strict=True))
    regions = ranked["region"].tolist()
    chosen: list[int] = []
    for rule in ("new AZ", "new pool"):
        for i in rows:
            if len(chosen) == wanted:
                break
            if i in chosen:
                continue
            if rule == "new AZ" and zones[i] in {zones[c] for c in chosen}:
                continue
            if pools[i] in {pools[c] for c in chosen}:
                continue
            chosen.append(i)
    if wanted >= 3 and len(chosen) >= 2 and len({regions[c] for c in chosen}) == 1:
        other = next((i for i in rows if regions[i] != regions[chosen[0]]), None)
        if other is not None:
            chosen[-1] = other
    return chosen


def recommend(ranked: pd.DataFrame, n: int = 1, fallbacks: int = 3,
              diversify: bool = True) -> pd.DataFrame:
    """``n`` picks plus ``fallbacks`` failover pools from ``rank()``'s output, in the order to
    try them: ``role`` (pick / fallback), ``order``, the pool, its price, score, interruption,
    its rank and ``why`` (one line). ``attrs["summary"]`` is one sentence for the top."""
    import pandas as pd

    n = _count("n", n, 1)
    fallbacks = _count("fallbacks", fallbacks, 0)
    if not isinstance(ranked, pd.DataFrame) or not {"rank", "region", "availability_zone",
                                                    "instance_type", "score"} <= set(ranked):
        raise UsageError("recommend() takes the DataFrame rank() returns",
                         suggestion="recommend(spot.rank(history, ...))")
    if not len(ranked):
        raise UsageError("the ranking is empty: nothing to recommend",
                         suggestion="loosen the filters passed to rank()")
    ranked = ranked.sort_values("rank", ignore_index=True)
    chosen = _choose(ranked, n + fallbacks, diversify)
    out = ranked.iloc[chosen].reset_index(drop=True)
    top = out.iloc[0]
    out.insert(0, "role", ["pick"] * min(n, len(out)) + ["fallback"] * max(len(out) - n, 0))
    out.insert(1, "order", range(1, len(out) + 1))
    whys = []
    for i, row in out.iterrows():  # a handful of rows: the list, not the ranking
        if row["role"] == "pick":
            whys.append(f"rank {row['rank']}: score {row['score']:.1f}; {row.get('reason', '')}"
                        .rstrip("; "))
            continue
        prev = out.iloc[: int(str(i))]
        delta = 100 * (row["current_price"] / top["current_price"] - 1)
        what = []
        if row["region"] not in set(prev["region"]):
            what.append(f"another region ({row['region']}) in case {top['region']} is short")
        elif row["availability_zone"] not in set(prev["availability_zone"]):
            what.append(f"another AZ ({row['availability_zone']}), a separate capacity pool")
        if row["instance_type"] != top["instance_type"]:
            what.append(f"another type ({row['instance_type']})")
        if not what:
            what.append("next best pool")
        whys.append(f"{'; '.join(what)}; {delta:+.0f}% price vs the pick, "
                    f"score {row['score']:.1f} (rank {row['rank']})")
    out["why"] = whys
    cols = [c for c in COLUMNS if c in out]
    result = out[cols].copy()
    result.attrs["summary"] = (
        f"Launch {top['instance_type']} in {top['availability_zone']} at "
        f"${top['current_price']:.4f}/h; on a capacity error try "
        + (", then ".join(f"{r.instance_type} in {r.availability_zone}"
                          for r in result.iloc[n:].itertuples()) or "nothing else (no fallbacks)")
        + ".")
    return result
