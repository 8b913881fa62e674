"""What a ``pmap`` or ``jobs`` run produced: one ``Outcome`` per job, gathered in ``JobResults``.

Both are plain data: an ``Outcome`` is pickled back from Dask workers, and ``JobResults``
is what the Engine returns, keeps as ``last_results`` and turns into ``jobs`` rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import GeuseError, JobError

if TYPE_CHECKING:
    import pandas as pd

_FRAME_COLUMNS = ("key", "status", "attempts", "started", "ended", "seconds", "error",
                  "suggestion")


@dataclasses.dataclass
class Outcome:
    """What became of one job (picklable, so it comes back from Dask workers)."""

    index: int
    status: str | None = None  # None while pending or running
    value: Any = None
    error: BaseException | None = None
    attempts: int = 0
    started: float | None = None
    ended: float | None = None


class JobResults(list):  # type: ignore[type-arg]
    """Values in input order (``None`` for jobs that did not finish) plus what happened.

    - ``keys``: one per job. For ``pmap`` the items themselves when they are unique
      str/int values, else the input positions 0…n-1; for ``jobs`` the job names.
    - ``values``: dict key → value (finished jobs only).
    - ``statuses``: dict key → one of ``done, failed, timed_out, cancelled, skipped``.
    - ``failed``: dict key → exception for ``failed`` and ``timed_out`` jobs.
    - ``errors``: dict key → error text for every job that did not finish.
    - ``ok``: every job is ``done``. ``cancelled``: the run was cancelled (or Ctrl-C).
    """

    def __init__(self, name: str, keys: Sequence[Hashable], outcomes: Sequence[Outcome], *,
                 cancelled: bool = False) -> None:
        super().__init__(o.value if o.status == "done" else None for o in outcomes)
        self.name = name
        self.keys = list(keys)
        self.outcomes = list(outcomes)
        self.cancelled = cancelled

    @property
    def statuses(self) -> dict[Hashable, str]:
        return {k: o.status or "cancelled" for k, o in zip(self.keys, self.outcomes,
                                                           strict=True)}

    @property
    def values(self) -> dict[Hashable, Any]:
        return {k: o.value for k, o in zip(self.keys, self.outcomes, strict=True)
                if o.status == "done"}

    @property
    def failed(self) -> dict[Hashable, BaseException]:
        return {k: o.error for k, o in zip(self.keys, self.outcomes, strict=True)
                if o.status in ("failed", "timed_out") and o.error is not None}

    @property
    def errors(self) -> dict[Hashable, str]:
        return {k: _error_text(o.error) or o.status or "cancelled"
                for k, o in zip(self.keys, self.outcomes, strict=True) if o.status != "done"}

    @property
    def ok(self) -> bool:
        return all(o.status == "done" for o in self.outcomes)

    def raise_for_failures(self) -> None:
        """Raise ``JobError`` (key → exception) if any job failed or timed out."""
        failures = self.failed
        if failures:
            raise JobError(dict(failures))

    def rows(self) -> list[dict[str, Any]]:
        """One ``jobs``-table row per job (times as epoch seconds)."""
        rows = []
        for key, o in zip(self.keys, self.outcomes, strict=True):
            seconds = (o.ended - o.started) if o.started is not None and o.ended else None
            rows.append({
                "map": self.name, "key": key, "status": o.status or "cancelled",
                "attempts": o.attempts, "started": o.started, "ended": o.ended,
                "seconds": seconds, "error": _error_text(o.error),
                "suggestion": (getattr(o.error, "suggestion", "") or None) if o.error else None,
            })
        return rows

    def frame(self) -> pd.DataFrame:
        """One row per job: key, status, attempts, started, ended, seconds, error, suggestion."""
        import pandas as pd

        df = pd.DataFrame.from_records(self.rows(), columns=["map", *_FRAME_COLUMNS])
        df = df.drop(columns="map")
        for col in ("started", "ended"):
            df[col] = pd.to_datetime(df[col], unit="s", utc=True)
        return df

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for o in self.outcomes:
            counts[o.status or "cancelled"] = counts.get(o.status or "cancelled", 0) + 1
        said = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no jobs"
        return f"<JobResults {self.name!r}: {said}{' (cancelled)' if self.cancelled else ''}>"


def _error_text(exc: BaseException | None) -> str | None:
    if exc is None:
        return None
    if isinstance(exc, GeuseError):  # str() adds the suggestion, which has its own column
        return f"{type(exc).__name__}: {Exception.__str__(exc)}"
    return f"{type(exc).__name__}: {exc}"


def pmap_keys(items: Sequence[Any]) -> list[Hashable]:
    """A ``pmap``'s job keys: its items when they are unique str/int values, else 0…n-1."""
    simple = all(isinstance(i, str | int) and not isinstance(i, bool) for i in items)
    if simple and len(set(items)) == len(items):
        return list(items)
    return list(range(len(items)))

