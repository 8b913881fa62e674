"""The metrics recorder: every table is a bounded ring buffer of rows, read as a DataFrame.

Tables: ``api_calls`` (one row per HTTP attempt or cache hit), ``operations``
(timers), ``counters``, ``gauges``, ``resources`` (CPU/memory samples) and
``jobs`` (one row per parallel job). Appending is a deque append under the GIL,
so recording costs about a microsecond and is safe from any thread.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from ..config import Settings

TABLES: dict[str, tuple[str, ...]] = {
    "api_calls": ("time", "service", "operation", "region", "latency", "attempt",
                  "http_status", "error_code", "retried", "cache_hit"),
    "operations": ("time", "name", "category", "seconds", "ok", "error"),
    "counters": ("time", "name", "value"),
    "gauges": ("time", "name", "value"),
    "resources": ("time", "cpu_percent", "rss_bytes", "memory_percent",
                  "disk_read_bytes", "disk_write_bytes", "net_sent_bytes", "net_recv_bytes"),
    "jobs": ("map", "key", "status", "attempts", "started", "ended", "seconds", "error",
             "suggestion"),
}

F = TypeVar("F", bound=Callable[..., Any])


class Recorder:
    """Thread-safe, bounded store of the kit's measurements."""

    def __init__(self, settings: Settings, *, kit_name: str = "geuse", enabled: bool = True):
        self.kit_name = kit_name
        self.enabled = enabled
        self._max_rows = settings.metrics_max_rows
        self._tables: dict[str, deque[dict[str, Any]]] = {
            name: deque(maxlen=self._max_rows) for name in TABLES
        }
        self._totals: dict[str, float] = {}
        self._lock = threading.Lock()
        # CloudWatch export: the namespace default, and a client factory the Kit may set.
        self.namespace = settings.metrics_namespace
        self.cloudwatch_client_factory: Callable[[], Any] | None = None

    # ------------------------------------------------------------ writing
    def add(self, table: str, row: dict[str, Any]) -> None:
        """Append one row to ``table`` (oldest rows drop off past ``metrics_max_rows``)."""
        if self.enabled:
            self._table(table).append(row)

    def record_api_call(
        self,
        *,
        service: str,
        operation: str,
        region: str | None,
        latency: float,
        attempt: int = 1,
        http_status: int | None = None,
        error_code: str | None = None,
        retried: bool = False,
        cache_hit: bool = False,
    ) -> None:
        """One HTTP attempt (or one cache hit, with ``cache_hit=True`` and no request)."""
        if self.enabled:
            self._tables["api_calls"].append({
                "time": time.time(), "service": service, "operation": operation,
                "region": region, "latency": latency, "attempt": attempt,
                "http_status": http_status, "error_code": error_code, "retried": retried,
                "cache_hit": cache_hit,
            })

    def count(self, name: str, n: float = 1) -> float:
        """Add ``n`` to counter ``name``; returns the new total."""
        with self._lock:
            total = self._totals.get(name, 0) + n
            self._totals[name] = total
        self.add("counters", {"time": time.time(), "name": name, "value": total})
        return total

    def gauge(self, name: str, value: float) -> None:
        """Record the current value of ``name``."""
        self.add("gauges", {"time": time.time(), "name": name, "value": float(value)})

    def timer(self, name: str, category: str = "operation") -> _Timer:
        """Time a block (``with``) or every call of a function (decorator) into ``operations``."""
        return _Timer(self, name, category)

    # ------------------------------------------------------------ reading
    def rows(self, table: str) -> list[dict[str, Any]]:
        """A snapshot of ``table``'s rows, oldest first."""
        return list(self._table(table))

    def counter(self, name: str) -> float:
        """The running total of counter ``name`` (0 if never counted)."""
        with self._lock:
            return self._totals.get(name, 0)

    def frame(self, table: str) -> pd.DataFrame:
        """``table`` as a DataFrame with its documented columns (empty when nothing recorded)."""
        import pandas as pd

        rows = self.rows(table)
        df = pd.DataFrame.from_records(rows, columns=list(TABLES[table]))
        if "time" in df.columns and len(df):
            df["time"] = pd.to_datetime(df["time"], unit="s", utc=True)
        return df

    def reset(self, table: str | None = None) -> None:
        """Empty one table, or all of them and the counter totals."""
        if table is None:
            for rows in self._tables.values():
                rows.clear()
            with self._lock:
                self._totals.clear()
        else:
            self._table(table).clear()

    def _table(self, table: str) -> deque[dict[str, Any]]:
        try:
            return self._tables[table]
        except KeyError:
            raise UsageError(
                f"unknown metrics table {table!r}",
                suggestion="use one of " + ", ".join(TABLES),
            ) from None

    # ------------------------------------------------------------ analysis and export
    def histogram(self, name: str | None = None, *, table: str = "api_calls",
                  by: str | Sequence[str] | None = None,
                  buckets: int | Sequence[float] | None = None,
                  cache_hits: bool = False) -> pd.DataFrame:
        """Bucketed latencies in ms (log-spaced buckets) → one row per (group, bucket).

        ``table="api_calls"``: ``name`` filters by service (``"ec2"``) or
        ``"service.operation"``; cache hits are left out unless ``cache_hits=True``.
        ``table="operations"``: ``name`` filters by timer name. ``by`` groups (e.g.
        ``["service", "operation"]``). ``buckets``: explicit edges in ms, or a count of
        log-spaced buckets over the data; default :data:`DEFAULT_BUCKETS_MS`.
        Columns: the ``by`` columns, ``low_ms``, ``high_ms``, ``count``.
        """
        return latency_histogram(self.frame(table), name=name, table=table, by=by,
                                 buckets=buckets, cache_hits=cache_hits)

    def summary(self) -> pd.DataFrame:
        """Per timed operation and per API call: count, errors, cache hits, p50/p95/p99/max ms."""
        return latency_summary(self.frame("api_calls"), self.frame("operations"))

    def export_cloudwatch(self, client: Any = None, namespace: str | None = None) -> dict[str, Any]:
        """Send everything recorded to CloudWatch with PutMetricData (see ``cloudwatch.py``).

        ``client`` defaults to ``cloudwatch_client_factory()`` (the Kit sets it).
        """
        from ..aws.cloudwatch import export_cloudwatch

        if client is None:
            if self.cloudwatch_client_factory is None:
                raise UsageError(
                    "export_cloudwatch() needs a CloudWatch client",
                    suggestion="pass one: recorder.export_cloudwatch(kit.client('cloudwatch'))")
            client = self.cloudwatch_client_factory()
        return export_cloudwatch(self, client, namespace=namespace)

    def to_emf(self, namespace: str | None = None) -> list[str]:
        """Everything recorded as CloudWatch Embedded Metric Format JSON lines."""
        from ..aws.cloudwatch import to_emf

        return to_emf(self, namespace=namespace)


class _Timer(contextlib.ContextDecorator):
    """Context manager and decorator that records one ``operations`` row per use."""

    def __init__(self, recorder: Recorder, name: str, category: str):
        self._recorder = recorder
        self.name = name
        self.category = category
        self._local = threading.local()
        self.seconds: float | None = None

    def __enter__(self) -> _Timer:
        starts = getattr(self._local, "starts", None)
        if starts is None:
            starts = self._local.starts = []
        starts.append((time.time(), time.perf_counter()))
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        wall, start = self._local.starts.pop()
        self.seconds = time.perf_counter() - start
        self._recorder.add("operations", {
            "time": wall, "name": self.name, "category": self.category,
            "seconds": self.seconds, "ok": exc is None,
            "error": None if exc is None else f"{type(exc).__name__}: {exc}",
        })

    def __call__(self, fn: F) -> F:  # type: ignore[override]
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return timed  # type: ignore[return-value]


@contextlib.contextmanager
def recording_disabled(recorder: Recorder) -> Iterator[None]:
    """Turn recording off for a block (benchmarks compare with and without)."""
    was = recorder.enabled
    recorder.enabled = False
    try:
        yield
    finally:
        recorder.enabled = was


# ---------------------------------------------------------------- analysis helpers
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
    counts = data.groupby([*keys, "_bucket"], dropna=False).size().rename("count")
    counts = counts.reset_index()
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
    errors are attempts with an error code or an HTTP status ≥ 400.
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
            err=api_calls["error_code"].notna()
            | (pd.to_numeric(api_calls["http_status"], errors="coerce").fillna(0) >= 400),
            hit=api_calls["cache_hit"].fillna(False).astype(bool))
        parts.append(_percentiles(calls, "name", "api_call", "err", "hit"))
    if not parts:
        return pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    return pd.concat(parts, ignore_index=True)[list(SUMMARY_COLUMNS)]


def _percentiles(df: pd.DataFrame, key: str, kind: str, err: str,
                 hit: str | None) -> pd.DataFrame:
    timed = df[~df[hit]] if hit else df
    grouped = df.groupby(key, sort=True)
    out = grouped.size().rename("count").to_frame()
    out["errors"] = grouped[err].sum().astype("int64")
    out["cache_hits"] = grouped[hit].sum().astype("int64") if hit else 0
    import pandas as pd

    tg = timed.groupby(key, sort=True)["ms"]
    if len(timed):
        quant = tg.quantile([0.5, 0.95, 0.99]).unstack()
        quant.columns = ["p50_ms", "p95_ms", "p99_ms"]
    else:
        quant = pd.DataFrame(columns=["p50_ms", "p95_ms", "p99_ms"], dtype="float64")
    out = out.join(quant).join(tg.max().rename("max_ms")).join(
        (tg.sum() / 1000.0).rename("total_s"))
    out.insert(0, "kind", kind)
    return out.reset_index().rename(columns={key: "name"})
