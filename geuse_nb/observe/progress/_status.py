"""Two small views: the parallel engine's job-status line and the spinner.

Both keep their own state and leave drawing to the live front end's hooks.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from ._base import Style, fmt_seconds

if TYPE_CHECKING:
    from ._progress import Progress


class MapStatus:
    """The live status line of one parallel map.

    ``update(done=, failed=, running=, retrying=, cancelled=)`` takes the CURRENT counts
    (absolute, not increments); omitted counts keep their value. The bar advances by
    finished jobs (done + failed + cancelled); a failed job marks the bar failed (a
    notebook bar's final record turns red).
    """

    FIELDS = ("done", "failed", "running", "retrying", "cancelled")

    def __init__(self, bar: Any, total: int):
        self._bar = bar
        self.total = total
        self.counts = dict.fromkeys(self.FIELDS, 0)
        self._lock = threading.Lock()
        self.closed = False

    def update(self, *, done: int | None = None, failed: int | None = None,
               running: int | None = None, retrying: int | None = None,
               cancelled: int | None = None) -> None:
        """Set the current counts and redraw (throttled by the front end)."""
        given = {"done": done, "failed": failed, "running": running, "retrying": retrying,
                 "cancelled": cancelled}
        with self._lock:
            if self.closed:
                return
            for key, value in given.items():
                if value is not None:
                    self.counts[key] = int(value)
            finished = self.counts["done"] + self.counts["failed"] + self.counts["cancelled"]
            self._bar.set_postfix_str(self.text(), refresh=False)
            if self.counts["failed"]:
                self._bar.failed = True
            delta = finished - self._bar.n
            if delta:
                self._bar.update(delta)

    def text(self) -> str:
        """``done 3 · failed 1 · running 2 · retrying 0 · cancelled 0``."""
        return " · ".join(f"{k} {self.counts[k]}" for k in self.FIELDS)

    def close(self) -> None:
        """Close the bar (idempotent); the last drawn state is the final record."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self._bar.set_postfix_str(self.text(), refresh=False)
        self._bar.close()

    def __enter__(self) -> MapStatus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Spinner:
    """``with progress.spinner("creating stack"):`` — ✓ or ✗ with the elapsed time at the end.

    An exception leaving the block is shown with its suggestion (and re-raised).
    """

    def __init__(self, progress: Progress, msg: str):
        self._progress = progress
        self.msg = msg
        self.ok: bool | None = None
        self.seconds: float | None = None
        self.error: BaseException | None = None
        self.started = 0.0
        self._token: Any = None

    @property
    def style(self) -> Style:
        """Busy while running, then ok or bad."""
        return Style.BUSY if self.ok is None else Style.OK if self.ok else Style.BAD

    @property
    def text(self) -> str:
        """``creating stack (1.20s)`` or ``creating stack (0.30s): ValueError`` when done."""
        if self.seconds is None:
            return self.msg
        text = f"{self.msg} ({fmt_seconds(self.seconds)})"
        return text + (f": {type(self.error).__name__}" if self.error is not None else "")

    def __enter__(self) -> Spinner:
        self.started = time.monotonic()
        self._token = self._progress.renderer.spinner_start(self)
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.seconds = time.monotonic() - self.started
        self.ok, self.error = exc is None, exc
        self._progress.renderer.spinner_end(self, self._token)
        if isinstance(exc, Exception):
            self._progress.error(exc)
