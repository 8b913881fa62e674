"""The recorder's tables read once, with the columns every section needs.

``api_calls`` rows are stamped when a call *ends* (``time``) and carry its ``latency``,
so a request ran over ``[time − latency, time]``; every time in the report is seconds
since the run's first event (``t0``). Jobs get a ``run`` label: the engine names a
map after its ``desc``, so a cold and a cached round of "spot prices" share a name;
a new run starts where a key repeats within a block of the same name ("spot prices",
"spot prices #2").
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from ..analysis import error_attempts, expected_attempts

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclasses.dataclass
class RunData:
    calls: pd.DataFrame      # every api_calls row + start_s, end_s, hit, err, op, region
    #                        (expected: an answer the call declared, not an error)
    requests: pd.DataFrame   # the rows that were real requests (not cache hits)
    hits: pd.DataFrame       # the cache hits
    ops: pd.DataFrame        # timers (operations table)
    jobs: pd.DataFrame       # + start_s, end_s, run
    resources: pd.DataFrame
    t0: float | None         # epoch seconds of the first event
    wall_s: float            # first event → last event


def epoch_seconds(series: pd.Series) -> np.ndarray:
    """Epoch seconds (float) of a datetime, numeric or text column."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_numeric_dtype(series):
        return series.to_numpy(dtype="float64")
    if not pd.api.types.is_datetime64_any_dtype(series):
        series = pd.to_datetime(series, utc=True, errors="coerce")
    index = pd.DatetimeIndex(series)
    out = index.asi8.astype("float64") / 1e9
    out[np.asarray(index.isna())] = np.nan
    if index.unit != "ns":  # pandas ≥ 2 may keep µs or s
        scale = {"s": 1e9, "ms": 1e6, "us": 1e3}[index.unit]
        out = out * scale
    return out


def run_labels(maps: list[Any], keys: list[Any]) -> list[str]:
    labels: list[str] = []
    runs: dict[str, int] = {}
    prev: Any = object()
    seen: set[Any] = set()
    for name, key in zip(maps, keys, strict=True):
        name = str(name)
        marker = repr(key)
        if name != prev or marker in seen:
            runs[name] = runs.get(name, 0) + 1
            seen = set()
        seen.add(marker)
        prev = name
        n = runs[name]
        labels.append(name if n == 1 else f"{name} #{n}")
    return labels


def read(recorder: Any) -> RunData:
    import numpy as np

    calls = recorder.frame("api_calls")
    ops = recorder.frame("operations")
    jobs = recorder.frame("jobs")
    resources = recorder.frame("resources")
    starts: list[float] = []
    ends: list[float] = []
    if len(calls):
        end = epoch_seconds(calls["time"])
        latency = calls["latency"].to_numpy(dtype="float64", na_value=np.nan)
        latency = np.nan_to_num(latency, nan=0.0)
        calls = calls.assign(
            end_s=end, start_s=end - latency, latency=latency,
            hit=calls["cache_hit"].fillna(False).astype(bool).to_numpy(),
            err=error_attempts(calls).to_numpy(),
            expected=expected_attempts(calls).to_numpy(),
            region=calls["region"].fillna("default").astype(str),
            op=calls["service"].astype(str) + "." + calls["operation"].astype(str))
        starts.append(float(np.nanmin(calls["start_s"])))
        ends.append(float(np.nanmax(calls["end_s"])))
    if len(ops):
        begin = epoch_seconds(ops["time"])
        ops = ops.assign(start_s=begin, end_s=begin + ops["seconds"].astype("float64"))
        starts.append(float(np.nanmin(ops["start_s"])))
        ends.append(float(np.nanmax(ops["end_s"])))
    if len(jobs):
        js = epoch_seconds(jobs["started"])
        je = epoch_seconds(jobs["ended"])
        jobs = jobs.assign(start_s=js, end_s=np.where(np.isnan(je), js, je),
                           status=jobs["status"].astype(str),
                           run=run_labels(jobs["map"].tolist(), jobs["key"].tolist()))
        if np.isfinite(js).any():
            starts.append(float(np.nanmin(js)))
            ends.append(float(np.nanmax(jobs["end_s"])))
    t0 = min(starts) if starts else None
    wall = (max(ends) - t0) if t0 is not None else 0.0
    if t0 is not None:
        calls, ops, jobs = (_shift(f, t0) for f in (calls, ops, jobs))
    if len(calls):
        requests, hits = calls[~calls["hit"]], calls[calls["hit"]]
    else:
        requests = hits = calls
    return RunData(calls, requests, hits, ops, jobs, resources, t0, max(0.0, wall))


def _shift(frame: pd.DataFrame, t0: float) -> pd.DataFrame:
    if not len(frame):
        return frame
    return frame.assign(start_s=frame["start_s"] - t0, end_s=frame["end_s"] - t0)


def union_seconds(starts: np.ndarray, ends: np.ndarray) -> float:
    """Length of the union of intervals [start, end] (time with at least one in flight)."""
    import numpy as np

    if not len(starts):
        return 0.0
    order = np.argsort(starts, kind="stable")
    s, e = starts[order], ends[order]
    reach = np.maximum.accumulate(e)
    new = np.r_[True, s[1:] > reach[:-1]]
    first = np.flatnonzero(new)
    seg_end = np.maximum.reduceat(e, first)
    return float(np.sum(np.maximum(seg_end - s[first], 0.0)))
