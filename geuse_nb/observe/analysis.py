"""Reading the recorder's tables: which attempts are errors, latency histograms, summaries.

Pure functions of DataFrames (no recorder, no client), shared by the recorder's
``histogram``/``summary``, the report, the EMF lines and the CloudWatch export, so
they all count the same attempts as errors. Everything is vectorised pandas: over
100 000 ``api_calls`` rows (20 operations, 2 regions) on the 2-core VM, medians of 5,
``error_attempts`` takes 4 ms, ``latency_histogram`` 64 ms and ``latency_summary`` 270 ms.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from ..errors import UsageError

if TYPE_CHECKING:
    import pandas as pd


def error_attempts(calls: pd.DataFrame) -> pd.Series:
    """THE rule for "this API attempt was an error": an error code, or an HTTP status
    ≥ 400, unless the call expected that answer (``expected``: a not-found probe's
    not-found, see ``metrics.expecting``). One boolean per ``api_calls`` row (cache hits
    have neither, so are never errors). Metrics summaries, the report and the
    CloudWatch/EMF export all use it."""
    import pandas as pd

    status = pd.to_numeric(calls["http_status"], errors="coerce").fillna(0)
    return (calls["error_code"].notna() | (status >= 400)) & ~expected_attempts(calls)


def expected_attempts(calls: pd.DataFrame) -> pd.Series:
    """One boolean per ``api_calls`` row: an answer the call declared it expected (the
    report's "expected not found"); False for frames recorded before the column existed."""
    import pandas as pd

    if "expected" not in calls.columns:
        return pd.Series(False, index=calls.index)
    return calls["expected"].fillna(False).astype(bool)


def api_call_groups(calls: pd.DataFrame) -> Iterator[tuple[str, str, str, pd.DataFrame]]:
    """``api_calls`` rows by (service, operation, region), with boolean ``hit`` and ``err``
    columns; a missing region is named ``"none"``."""
    if not len(calls):
        return
    calls = calls.assign(
        region=calls["region"].fillna("none"),
        hit=calls["cache_hit"].fillna(False).astype(bool),
        err=error_attempts(calls))
    for (service, operation, region), group in calls.groupby(
            ["service", "operation", "region"], sort=True):
        yield str(service), str(operation), str(region), group


# ---------------------------------------------------------------- latency
# Log-spaced latency bucket edges in milliseconds (1-2-5 steps); the last bucket is open.
DEFAULT_BUCKETS_MS: tuple[float, ...] = (
    0.0, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000,
    30_000, 60_000, float("inf"))


def _latency_ms(frame: pd.DataFrame, name: str | None, table: str,
                cache_hits: bool) -> tuple[pd.DataFrame, str]:
    """Filter ``frame`` and add a ``ms`` column (the table's seconds × 1000)."""
    if table == "api_calls":
        if not cache_hits and len(frame):
            frame = frame[~frame["cache_hit"].fillna(False).astype(bool)]
        if name:
            service, _, operation = name.partition(".")
            mask = frame["service"] == service
            if operation:
                mask &= frame["operation"] == operation
            frame = frame[mask]
        column = "latency"
    elif table == "operations":
        if name:
            frame = frame[frame["name"] == name]
        column = "seconds"
    else:
        raise UsageError(f"histogram(table={table!r}) has no latencies",
                         suggestion="use table='api_calls' or table='operations'")
    frame = frame.assign(ms=frame[column].astype("float64") * 1000.0)
    return frame, column


def latency_histogram(frame: pd.DataFrame, *, name: str | None = None,
                      table: str = "api_calls", by: str | Sequence[str] | None = None,
                      buckets: int | Sequence[float] | None = None,
                      cache_hits: bool = False) -> pd.DataFrame:
    """The vectorised body of :meth:`Recorder.histogram` (usable on any such frame)."""
    import numpy as np
    import pandas as pd

    keys = [by] if isinstance(by, str) else list(by or [])
    unknown = [k for k in keys if k not in frame.columns]
    if unknown:
        raise UsageError(f"histogram(by={by!r}): no column {unknown[0]!r} in {table}",
                         suggestion="group by one of " + ", ".join(frame.columns))
    data, _ = _latency_ms(frame, name, table, cache_hits)
    data = data[data["ms"].notna()]
    if buckets is None:
        edges = np.asarray(DEFAULT_BUCKETS_MS, dtype="float64")
    elif isinstance(buckets, int):
        if buckets < 1:
            raise UsageError(f"histogram(buckets={buckets}) needs at least 1 bucket",
                             suggestion="pass a bucket count ≥ 1 or explicit edges in ms")
        positive = data["ms"][data["ms"] > 0]
        low = float(positive.min()) if len(positive) else 0.1
        high = float(data["ms"].max()) if len(data) else 1000.0
        high = max(high, low * 1.0001)
        edges = np.geomspace(low, high, buckets + 1)  # values below ``low`` go in the first
        edges[-1] = np.nextafter(edges[-1], np.inf)
    else:
        edges = np.asarray(sorted(float(b) for b in buckets), dtype="float64")
        if len(edges) < 2:
            raise UsageError(f"histogram(buckets={buckets!r}) needs at least two edges",
                             suggestion="pass edges in ms, e.g. [0, 1, 10, 100, 1000]")
    idx = np.searchsorted(edges, data["ms"].to_numpy(), side="right") - 1
    idx = np.clip(idx, 0, len(edges) - 2)
    data = data.assign(_bucket=idx)
    counts = data.groupby([*keys, "_bucket"], dropna=False).size().rename("count").reset_index()
    groups = counts[keys].drop_duplicates() if keys else pd.DataFrame(index=[0])
    grid = groups.merge(pd.DataFrame({"_bucket": np.arange(len(edges) - 1)}), how="cross")
    out = grid.merge(counts, on=[*keys, "_bucket"], how="left")
    out["count"] = out["count"].fillna(0).astype("int64")
    out["low_ms"] = edges[out["_bucket"].to_numpy()]
    out["high_ms"] = edges[out["_bucket"].to_numpy() + 1]
    return out[[*keys, "low_ms", "high_ms", "count"]].reset_index(drop=True)


SUMMARY_COLUMNS = ("kind", "name", "count", "errors", "cache_hits", "p50_ms", "p95_ms",
                   "p99_ms", "max_ms", "total_s")


def latency_summary(api_calls: pd.DataFrame, operations: pd.DataFrame) -> pd.DataFrame:
    """Per operation (timers) and per API call (service.operation): counts and percentiles.

    API-call percentiles are over real requests only (cache hits are counted, not timed);
    errors are ``error_attempts``.
    """
    import pandas as pd

    parts = []
    if len(operations):
        ops = operations.assign(ms=operations["seconds"].astype("float64") * 1000.0,
                                err=~operations["ok"].fillna(False).astype(bool))
        parts.append(_percentiles(ops, "name", "operation", "err", None))
    if len(api_calls):
        calls = api_calls.assign(
            name=api_calls["service"].astype(str) + "." + api_calls["operation"].astype(str),
            ms=api_calls["latency"].astype("float64") * 1000.0,
            err=error_attempts(api_calls),
            hit=api_calls["cache_hit"].fillna(False).astype(bool))
        parts.append(_percentiles(calls, "name", "api_call", "err", "hit"))
    if not parts:
        return pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    return pd.concat(parts, ignore_index=True)[list(SUMMARY_COLUMNS)]


def _percentiles(df: pd.DataFrame, key: str, kind: str, err: str,
                 hit: str | None) -> pd.DataFrame:
    timed = df[~df[hit]] if hit else df
    grouped = df.groupby(key, sort=True)
    import numpy as np
    import pandas as pd

    out: pd.DataFrame = grouped.size().rename("count").to_frame()
    out["errors"] = grouped[err].sum().astype("int64")
    out["cache_hits"] = grouped[hit].sum().astype("int64") if hit else 0
    tg = timed.groupby(key, sort=True)["ms"]
    if len(timed):
        quant = tg.quantile(np.array([0.5, 0.95, 0.99])).unstack()
        quant.columns = ["p50_ms", "p95_ms", "p99_ms"]
    else:
        quant = pd.DataFrame(columns=["p50_ms", "p95_ms", "p99_ms"], dtype="float64")
    out = out.join(quant).join(tg.max().rename("max_ms")).join(
        (tg.sum() / 1000.0).rename("total_s"))
    out.insert(0, "kind", kind)
    return out.reset_index().rename(columns={key: "name"})
