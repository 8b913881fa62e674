"""A board: a live table with one row per name (e.g. a region), each with a state, a note
and its own clock. The step tracker (``_steps.py``) is a board whose rows are steps.

The board keeps the rows; the live front end draws them through its three panel hooks
(open, change, close), called under the board's lock, so rows may be updated from worker
threads and each drawing shows one consistent table. States are any strings (callers
pass their own StrEnum; the frame keeps plain strings); ``styles`` maps them to
``ok bad warn busy dim``.

Every change is drawn at once, not throttled: with 20 rows a change costs 1 µs quiet,
7 µs as a plain line, 0.12 ms redrawn in a terminal and 0.27 ms rebuilding the notebook
table (best of 5 × 2 000 changes, this machine), while a rollout changes a row a few
times a second. A throttle would need a timer thread to draw the last change of a burst.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ...errors import UsageError, did_you_mean
from ._base import Style, fmt_seconds

if TYPE_CHECKING:
    import pandas as pd

    from ._progress import Progress

DEFAULT_BOARD_STYLES: dict[str, Style] = {
    "done": Style.OK, "ok": Style.OK, "no_changes": Style.OK,
    "failed": Style.BAD, "timed_out": Style.BAD,
    "skipped": Style.DIM, "cancelled": Style.DIM,
    "rolled_back": Style.WARN,
    "running": Style.BUSY, "in_progress": Style.BUSY,
}  # any other state is dim


@dataclasses.dataclass
class BoardRow:
    """One row: a name with its state, note and clock (wall-clock times for the frame,
    monotonic ones for durations immune to clock changes)."""

    name: str
    state: str
    note: str = ""
    started: float | None = None  # time.time() when the clock started
    ended: float | None = None
    t0: float | None = None  # time.monotonic() twins
    t1: float | None = None

    @property
    def seconds(self) -> float | None:
        """Time on this row's clock (still running until the row finishes)."""
        if self.t0 is None:
            return None
        return (self.t1 if self.t1 is not None else time.monotonic()) - self.t0

    def start_clock(self) -> None:
        self.started, self.t0, self.ended, self.t1 = time.time(), time.monotonic(), None, None

    def stop_clock(self) -> None:
        if self.t0 is not None and self.t1 is None:
            self.ended, self.t1 = time.time(), time.monotonic()


class Board:
    """``with kit.progress.board("rollout", regions) as b: b.start(r); b.finish(r, "done")``.

    ``set`` changes a row's state and note, ``start`` also starts its clock, ``finish``
    stops it. A context manager; ``close()`` is idempotent and leaves the final record;
    changes after it are kept (``frame()``) but not drawn.
    """

    kind = "board"  # what it is called: in messages, and the HTML class geuse-<kind>
    item = "row"  # what a row is called

    def __init__(self, progress: Progress, title: str, names: Iterable[str], *,
                 initial: str = "queued", styles: Mapping[str, str] | None = None) -> None:
        self.title = title
        self.rows: dict[str, BoardRow] = {n: BoardRow(n, str(initial))
                                          for n in self._check_names(names)}
        self.styles: dict[str, Style] = {**DEFAULT_BOARD_STYLES, **self._check_styles(styles)}
        self.noun = f"{self.item}s"
        self._progress = progress
        self._renderer = progress.renderer
        self._lock = threading.RLock()
        self._start = time.monotonic()
        self.closed = False
        with self._lock:
            self._token: Any = self._renderer.panel_open(self)

    def _check_names(self, names: Iterable[str]) -> list[str]:
        call = f"{self.kind}({self.title!r}, names)"
        if isinstance(names, str):
            raise UsageError(f"{call} got the string {names!r}",
                             suggestion=f"pass a list of {self.item} names, e.g. [{names!r}]")
        out = [str(n) for n in names]
        if not out:
            raise UsageError(f"{call} got no {self.item} names",
                             suggestion=f"pass the {self.item} names in order")
        dupes = sorted({n for n in out if out.count(n) > 1})
        if dupes:
            raise UsageError(f"{call} has duplicate {self.item} names: {dupes}",
                             suggestion=f"give every {self.item} a unique name")
        return out

    def _check_styles(self, styles: Mapping[str, str] | None) -> dict[str, Style]:
        out: dict[str, Style] = {}
        for state, style in (styles or {}).items():
            if style not in set(Style):
                raise UsageError(f"{self.kind} style {style!r} for state {state!r} is not "
                                 "known" + did_you_mean(str(style), list(Style)),
                                 suggestion="use one of " + ", ".join(Style))
            out[str(state)] = Style(style)
        return out

    # ------------------------------------------------ updates
    def _get(self, name: str) -> BoardRow:
        try:
            return self.rows[str(name)]
        except KeyError:
            raise UsageError(f"{self.kind} {self.title!r} has no {self.item} {name!r}"
                             + did_you_mean(str(name), self.rows),
                             suggestion=f"use one of {list(self.rows)}") from None

    def set(self, name: str, state: str, note: str = "") -> None:
        """Set ``name``'s state and note (its clock is left as it is)."""
        self._change(name, state, note, None)

    def start(self, name: str, state: str = "running", note: str = "") -> None:
        """Set ``name``'s state and note and (re)start its clock."""
        self._change(name, state, note, BoardRow.start_clock)

    def finish(self, name: str, state: str, note: str = "") -> None:
        """Set ``name``'s final state and note and stop its clock (if it was started)."""
        self._change(name, state, note, BoardRow.stop_clock)

    def _change(self, name: str, state: str, note: str, clock: Any) -> None:
        with self._lock:
            row = self._get(name)
            before = (row.state, row.note)
            row.state, row.note = str(state), str(note)
            if clock is not None:
                clock(row)
            if not self.closed and ((row.state, row.note) != before or clock is not None):
                self._renderer.panel_change(self, self._token, row)

    # ------------------------------------------------ reading
    def style(self, state: str) -> Style:
        """The style of ``state`` (dim when it has none)."""
        return self.styles.get(str(state), Style.DIM)

    @property
    def failed(self) -> bool:
        """Whether any row is in a bad state."""
        return any(self.style(r.state) is Style.BAD for r in self.rows.values())

    @property
    def outcome(self) -> Style:
        """How the whole panel looks when closed: bad if any row is, else ok."""
        return Style.BAD if self.failed else Style.OK

    def elapsed(self) -> str:
        return fmt_seconds(time.monotonic() - self._start)

    def summary(self) -> str:
        """``2 done, 1 failed, 3 queued in 12.0s`` (states in order of first appearance)."""
        counts: dict[str, int] = {}
        for row in self.rows.values():
            counts[row.state] = counts.get(row.state, 0) + 1
        return ", ".join(f"{n} {state}" for state, n in counts.items()) + f" in {self.elapsed()}"

    def frame(self) -> pd.DataFrame:
        """One row per name: name, state, note, started and ended (UTC), seconds."""
        import pandas as pd

        with self._lock:
            records = [{"name": r.name, "state": r.state, "note": r.note,
                        "started": r.started, "ended": r.ended, "seconds": r.seconds}
                       for r in self.rows.values()]
        df = pd.DataFrame(records, columns=["name", "state", "note", "started", "ended",
                                            "seconds"])
        for col in ("started", "ended"):
            df[col] = pd.to_datetime(df[col], unit="s", utc=True)
        df["seconds"] = df["seconds"].astype(float)
        return df

    # ------------------------------------------------ closing
    def close(self) -> None:
        """Leave the final record (idempotent)."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self._renderer.panel_close(self, self._token)

    def __enter__(self) -> Board:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.close()
