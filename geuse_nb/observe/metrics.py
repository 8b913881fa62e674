"""The metrics recorder: every table is a bounded ring buffer of rows, read as a DataFrame.

Tables: ``api_calls`` (one row per HTTP attempt or cache hit), ``operations``
(timers), ``counters``, ``gauges``, ``resources`` (CPU/memory samples) and
``jobs`` (one row per parallel job). Appending is a deque append under the GIL,
so recording costs about a microsecond and is safe from any thread.

Reading the tables (error rule, histograms, summaries) is ``analysis.py``; the EMF
lines are ``emf.py``; sending to CloudWatch needs a client, so it is the AWS layer's
``aws/cloudwatch.py`` (``kit.export_cloudwatch()``), given this recorder.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import itertools
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ..errors import UsageError
from .analysis import (
    DEFAULT_BUCKETS_MS,
    SUMMARY_COLUMNS,
    error_attempts,
    latency_histogram,
    latency_summary,
)

if TYPE_CHECKING:
    import pandas as pd

    from ..config import Settings

TABLES: dict[str, tuple[str, ...]] = {
    "api_calls": ("time", "service", "operation", "region", "latency", "attempt",
                  "http_status", "error_code", "retried", "cache_hit", "expected",
                  "account"),
    "operations": ("time", "name", "category", "seconds", "ok", "error"),
    "counters": ("time", "name", "value"),
    "gauges": ("time", "name", "value"),
    "resources": ("time", "cpu_percent", "rss_bytes", "memory_percent",
                  "disk_read_bytes", "disk_write_bytes", "net_sent_bytes", "net_recv_bytes"),
    "jobs": ("map", "key", "status", "attempts", "started", "ended", "seconds", "error",
             "suggestion"),
}

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [  # the analysis functions are re-exported: callers read them as metrics.*
    "DEFAULT_BUCKETS_MS", "SHIPPED_TABLES", "SUMMARY_COLUMNS", "TABLES", "Recorder",
    "error_attempts", "expecting", "latency_histogram", "latency_summary",
    "recording_disabled", "worker_rows",
]

# The AWS error codes the calls made in this context expect (a not-found probe expects
# its not-found): ``record_api_call`` marks such an attempt ``expected``, which keeps its
# HTTP status and code but is not an error (``analysis.error_attempts``). A context
# variable, so the botocore hook that records the attempt (same thread) needs no new
# argument, and each thread and task has its own.
_EXPECTED: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "geuse_nb_expected_codes", default=frozenset())


@contextlib.contextmanager
def expecting(codes: frozenset[str]) -> Iterator[None]:
    """Within the block, attempts answered with one of ``codes`` are recorded as expected
    answers (``api_calls.expected``), not errors. Nests: the codes add up."""
    token = _EXPECTED.set(_EXPECTED.get() | codes)
    try:
        yield
    finally:
        _EXPECTED.reset(token)


# Tables whose rows a worker ships home (``resources`` stays: a worker's CPU samples are
# its own machine's, and the notebook samples its own process).
SHIPPED_TABLES = ("api_calls", "operations", "counters", "gauges", "jobs")

_SHIPPING: weakref.WeakSet[Recorder] = weakref.WeakSet()
_SHIPPING_LOCK = threading.Lock()


class _Outbox(deque[dict[str, Any]]):
    """A table of a shipping recorder: every row is also queued for the trip home."""

    def __init__(self, rows: deque[dict[str, Any]], queue: deque[tuple[str, dict[str, Any]]],
                 table: str) -> None:
        super().__init__(rows, maxlen=rows.maxlen)
        self._queue = queue
        self._name = table

    def append(self, row: dict[str, Any]) -> None:
        super().append(row)
        self._queue.append((self._name, row))


def worker_rows() -> list[tuple[str, dict[str, Any]]]:
    """Rows recorded in this process by shipping recorders (``Recorder.ship_home``) since
    the last call, each returned once: the engine's remote task wrapper sends them home
    with a job's result, and the notebook's ``Recorder.merge`` adds them."""
    with _SHIPPING_LOCK:
        recorders = list(_SHIPPING)
    out: list[tuple[str, dict[str, Any]]] = []
    for recorder in recorders:
        out.extend(recorder.drain())
    return out


class Recorder:
    """Thread-safe, bounded store of the kit's measurements.

    Worker metrics: a kit (or call path) rebuilt from a pickle in a Dask or joblib
    process worker records into a recorder of its own there. ``ship_home()`` makes such
    a recorder queue its rows; the engine's remote task wrapper takes them
    (``worker_rows()``) and returns them with the job's outcome; the notebook's
    recorder ``merge``s them, so every row reaches it once (counters as increments).
    """

    def __init__(self, settings: Settings, *, kit_name: str = "geuse", enabled: bool = True):
        self.kit_name = kit_name
        self.enabled = enabled
        self._max_rows = settings.metrics_max_rows
        self._tables: dict[str, deque[dict[str, Any]]] = {
            name: deque(maxlen=self._max_rows) for name in TABLES
        }
        self._totals: dict[str, float] = {}
        self._lock = threading.Lock()
        self.namespace = settings.metrics_namespace  # of the EMF lines and CloudWatch export
        self._outbox: deque[tuple[str, dict[str, Any]]] | None = None
        self._shipped_totals: dict[str, float] = {}

    # ------------------------------------------------------------ worker → notebook
    def ship_home(self) -> Recorder:
        """Queue every row recorded from now on for ``worker_rows()`` (see the class
        docstring). Idempotent; returns self."""
        with self._lock:
            if self._outbox is None:
                self._outbox = deque()
                for name in SHIPPED_TABLES:
                    self._tables[name] = _Outbox(self._tables[name], self._outbox, name)
        with _SHIPPING_LOCK:
            _SHIPPING.add(self)
        return self

    @property
    def ships_home(self) -> bool:
        return self._outbox is not None

    def drain(self) -> list[tuple[str, dict[str, Any]]]:
        """The queued rows, each once (``counters`` rows carry ``delta``, the increment
        since the previous shipped row of that counter)."""
        queue = self._outbox
        out: list[tuple[str, dict[str, Any]]] = []
        if queue is None:
            return out
        with self._lock:  # one drainer at a time: deltas are computed in order
            while True:
                try:
                    table, row = queue.popleft()
                except IndexError:
                    break
                if table == "counters":
                    last = self._shipped_totals.get(row["name"], 0)
                    self._shipped_totals[row["name"]] = row["value"]
                    row = {**row, "delta": row["value"] - last}
                out.append((table, row))
        return out

    def merge(self, rows: Sequence[tuple[str, Mapping[str, Any]]]) -> int:
        """Add rows a worker shipped home (``worker_rows()``); returns how many.
        Counter rows are added as increments to this recorder's totals."""
        merged = 0
        for table, row in rows:
            if table == "counters":
                self.count(str(row["name"]), float(row.get("delta", row["value"])))
            elif table in TABLES:
                self.add(table, {**dict.fromkeys(TABLES[table]), **row})
            else:
                continue
            merged += 1
        return merged

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
        account: str | None = None,
    ) -> None:
        """One HTTP attempt (or one cache hit, with ``cache_hit=True`` and no request);
        ``expected`` when its error code is one the call declared (``expecting``).
        ``account`` is set when it ran in another account (an assumed role)."""
        if self.enabled:
            self._tables["api_calls"].append({
                "time": time.time(), "service": service, "operation": operation,
                "region": region, "latency": latency, "attempt": attempt,
                "http_status": http_status, "error_code": error_code, "retried": retried,
                "cache_hit": cache_hit,
                "expected": error_code is not None and error_code in _EXPECTED.get(),
                "account": account,
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

    def tail(self, table: str, n: int) -> list[dict[str, Any]]:
        """The newest ``n`` rows of ``table``, oldest first: what a reader of recent history
        needs, without copying the whole table (up to ``metrics_max_rows`` rows; a
        fan-out's latency history read 500 000 rows' references per call to use 2 000)."""
        # one C call (list over islice over the deque's reverse iterator): no other thread
        # runs in between, so a concurrent append cannot break the iteration
        newest = list(itertools.islice(reversed(self._table(table)), max(0, n)))
        newest.reverse()
        return newest

    def counter(self, name: str) -> float:
        """The running total of counter ``name`` (0 if never counted)."""
        with self._lock:
            return self._totals.get(name, 0)

    def frame(self, table: str) -> pd.DataFrame:
        """``table`` as a DataFrame: its documented columns first (present even when nothing
        was recorded), then any further fields its rows carry, in the order first seen (a
        rollout's jobs keep ``wave``, ``stack_id`` and ``outputs``)."""
        import pandas as pd

        rows = self.rows(table)
        columns = dict.fromkeys(TABLES[table])
        for row in rows:
            columns.update(dict.fromkeys(row))
        df = pd.DataFrame.from_records(rows, columns=list(columns))
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

    def to_emf(self, namespace: str | None = None) -> list[str]:
        """Everything recorded as CloudWatch Embedded Metric Format JSON lines (``emf.py``);
        print them where the CloudWatch agent or Lambda's log reader picks them up."""
        from .emf import to_emf

        return to_emf(self.frame("api_calls"), self.frame("counters"), self.frame("gauges"),
                      namespace=namespace or self.namespace, kit=self.kit_name)


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

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return cast(F, timed)  # functools.wraps: the same signature as fn


@contextlib.contextmanager
def recording_disabled(recorder: Recorder) -> Iterator[None]:
    """Turn recording off for a block (benchmarks compare with and without)."""
    was = recorder.enabled
    recorder.enabled = False
    try:
        yield
    finally:
        recorder.enabled = was
