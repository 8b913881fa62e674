"""What a ``pmap`` or ``jobs`` run produced: one ``Outcome`` per job, gathered in ``JobResults``.

Both are plain data: an ``Outcome`` is pickled back from Dask workers, and ``JobResults``
is what the Engine returns, keeps as ``last_results`` and turns into ``jobs`` rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import GeuseError, JobError
from ..states import JobStatus

if TYPE_CHECKING:
    import pandas as pd

_FRAME_COLUMNS = ("key", "status", "attempts", "started", "ended", "seconds", "error",
                  "suggestion")


@dataclasses.dataclass
class Outcome:
    """What became of one job (picklable, so it comes back from Dask workers)."""

    index: int
    status: JobStatus | None = None  # None while pending or running
    value: Any = None
    error: BaseException | None = None
    attempts: int = 0
    started: float | None = None
    ended: float | None = None
    suggestion: str | None = None  # what to do about ``error`` (the Engine's ``suggest``)
    rows: list[tuple[str, dict[str, Any]]] | None = None  # metrics a remote worker sent home


class JobResults(list[Any]):
    """Values in input order (``None`` for jobs that did not finish) plus what happened.

    - ``keys``: one per job. For ``pmap`` the items themselves when they are unique
      str/int values, else the input positions 0…n-1; for ``jobs`` the job names.
    - ``values``: dict key → value (finished jobs only).
    - ``statuses``: dict key → ``JobStatus`` (``done, failed, timed_out, cancelled,
      skipped``; a ``StrEnum``, so each equals its string).
    - ``failed``: dict key → exception for ``failed`` and ``timed_out`` jobs.
    - ``errors``: dict key → error text for every job that did not finish.
    - ``ok``: every job is ``done``. ``cancelled``: the run was cancelled (or Ctrl-C).
    """

    def __init__(self, name: str, keys: Sequence[Hashable], outcomes: Sequence[Outcome], *,
                 cancelled: bool = False) -> None:
        super().__init__(o.value if o.status == JobStatus.DONE else None for o in outcomes)
        self.name = name
        self.keys = list(keys)
        self.outcomes = list(outcomes)
        self.cancelled = cancelled

    @property
    def statuses(self) -> dict[Hashable, JobStatus]:
        return {k: _status(o) for k, o in zip(self.keys, self.outcomes, strict=True)}

    @property
    def values(self) -> dict[Hashable, Any]:
        return {k: o.value for k, o in zip(self.keys, self.outcomes, strict=True)
                if o.status == JobStatus.DONE}

    @property
    def failed(self) -> dict[Hashable, BaseException]:
        return {k: o.error for k, o in zip(self.keys, self.outcomes, strict=True)
                if o.status is not None and o.status.is_error and o.error is not None}

    @property
    def errors(self) -> dict[Hashable, str]:
        return {k: _error_text(o.error) or _status(o)
                for k, o in zip(self.keys, self.outcomes, strict=True)
                if o.status != JobStatus.DONE}

    @property
    def ok(self) -> bool:
        return all(o.status == JobStatus.DONE for o in self.outcomes)

    def raise_for_failures(self) -> None:
        """Raise ``JobError`` (key → exception) if any job failed or timed out."""
        failures = self.failed
        if failures:
            raise JobError(dict(failures))

    def rows(self) -> list[dict[str, Any]]:
        """One ``jobs``-table row per job (times as epoch seconds; status a ``JobStatus``)."""
        rows = []
        for key, o in zip(self.keys, self.outcomes, strict=True):
            seconds = (o.ended - o.started) if o.started is not None and o.ended else None
            rows.append({
                "map": self.name, "key": key, "status": _status(o),
                "attempts": o.attempts, "started": o.started, "ended": o.ended,
                "seconds": seconds, "error": _error_text(o.error),
                "suggestion": o.suggestion if o.error is not None else None,
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
        counts: dict[JobStatus, int] = {}
        for o in self.outcomes:
            counts[_status(o)] = counts.get(_status(o), 0) + 1
        said = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no jobs"
        return f"<JobResults {self.name!r}: {said}{' (cancelled)' if self.cancelled else ''}>"


def _status(o: Outcome) -> JobStatus:
    """A job's final status: one never resolved (a run cut short) counts as cancelled."""
    return o.status or JobStatus.CANCELLED


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

