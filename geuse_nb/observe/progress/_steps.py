"""The step tracker: a board whose rows are the steps of one procedure, in order.

States are ``pending running done failed`` (styled dim, busy, ok, bad); a failed step's
note is its error. ``with tracker.step("vpc"):`` runs one step (done on success, failed and
re-raised on error); leaving the tracker's ``with`` block by an exception fails the running
steps and shows the exception with its suggestion.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ._board import Board, BoardRow

if TYPE_CHECKING:
    import pandas as pd

    from ._progress import Progress

STEP_STATES = ("pending", "running", "done", "failed")


class StepTracker(Board):
    """A multi-step tracker: pending/running/done/failed per step with elapsed times.

    Use as a context manager with ``.start(name)``/``.done(name)``/``.fail(name, error)``, or
    ``with tracker.step("vpc"): ...`` per step (done on success, failed on exception).
    """

    kind = "steps"
    item = "step"

    def __init__(self, progress: Progress, title: str, names: Iterable[str]) -> None:
        super().__init__(progress, title, names, initial="pending")

    @property
    def steps(self) -> dict[str, BoardRow]:
        """The steps by name, in order (each with ``state`` and ``seconds``)."""
        return self.rows

    def start(self, name: str, state: str = "running", note: str = "") -> None:
        """Mark ``name`` running (and start its clock)."""
        super().start(name, state, note)

    def done(self, name: str) -> None:
        """Mark ``name`` done (starting it now if it never started)."""
        self._end(name, "done", "")

    def fail(self, name: str, error: BaseException | str | None = None) -> None:
        """Mark ``name`` failed with ``error`` (an exception or a message)."""
        if isinstance(error, BaseException):
            error = f"{type(error).__name__}: {error}"
        self._end(name, "failed", error or "")

    def _end(self, name: str, state: str, note: str) -> None:
        with self._lock:
            row = self._get(name)
            if row.t0 is None:
                row.start_clock()
            self.finish(name, state, note)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[BoardRow]:
        """Run one step: running on entry, done on success, failed (and re-raised) on error."""
        self.start(name)
        try:
            yield self.rows[name]
        except BaseException as exc:
            self.fail(name, exc)
            raise
        self.done(name)

    def summary(self) -> str:
        """``3/4 done, 1 failed in 2.1s``."""
        counts = dict.fromkeys(STEP_STATES, 0)
        for row in self.rows.values():
            counts[row.state] = counts.get(row.state, 0) + 1
        parts = [f"{counts['done']}/{len(self.rows)} done"]
        parts += [f"{counts[k]} {k}" for k in ("failed", "running", "pending") if counts[k]]
        return ", ".join(parts) + f" in {self.elapsed()}"

    def frame(self) -> pd.DataFrame:
        """One row per step: name, state, seconds, error."""
        import pandas as pd

        with self._lock:
            records = [{"name": r.name, "state": r.state, "seconds": r.seconds,
                        "error": r.note or None} for r in self.rows.values()]
        return pd.DataFrame(records, columns=["name", "state", "seconds", "error"])

    def close(self, exc: BaseException | None = None) -> None:
        """Finish: running steps fail when ``exc`` is given (which is then shown with its
        suggestion); draws the final record once."""
        with self._lock:
            if self.closed:
                return
            if exc is not None:
                for row in self.rows.values():
                    if row.state == "running":
                        row.state, row.note = "failed", f"{type(exc).__name__}: {exc}"
                        row.stop_clock()
            super().close()
        if isinstance(exc, Exception):
            self._progress.error(exc)  # the failure, with its suggestion

    def __enter__(self) -> StepTracker:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.close(exc)
