"""The plain front end: timestamped lines, never control codes (CI, papermill logs, pipes).

Not chatty: a bar writes a line at start, one per ``PLAIN_STEP`` % or ``PLAIN_INTERVAL``
seconds (but at most one per ``mininterval``, 1 s by default, like tqdm's), and one at the
end; a 10 000-item loop that takes a second writes two lines.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ._base import Bar, fmt_seconds
from ._text import TextRenderer, TextSink

if TYPE_CHECKING:
    from ._status import Spinner

PLAIN_INTERVAL = 10.0  # seconds between plain progress lines at most
PLAIN_STEP = 10.0  # percent between plain progress lines at most


class PlainBar(Bar):
    """Timestamped lines: at start, then when ``interval`` s or ``step`` % has passed (but at
    most one per ``min_gap`` s), and at end."""

    def __init__(self, sink: TextSink, iterable: Iterable[Any] | None, desc: str | None,
                 total: float | None, *, interval: float = PLAIN_INTERVAL,
                 step: float = PLAIN_STEP, min_gap: float = 1.0):
        if total is None and iterable is not None:
            with contextlib.suppress(TypeError):
                total = len(iterable)  # type: ignore[arg-type]  # sized iterables only
        super().__init__(iterable, desc, total)
        self._sink = sink
        self._interval = interval
        self._step = step
        self._min_gap = min_gap
        self._last_time = self.start
        self._last_pct = 0.0
        self._lock = threading.Lock()
        self._sink.line(self._text("start"))

    def _text(self, phase: str) -> str:
        elapsed = time.monotonic() - self.start
        label = f"{self.desc}: " if self.desc else ""
        if self.total:
            count = f"{100.0 * self.n / self.total:3.0f}% {self.n:g}/{self.total:g}"
        else:
            count = f"{self.n:g}"
        rate = f", {self.n / elapsed:.1f}/s" if elapsed > 0 and self.n else ""
        post = f" | {self.postfix}" if self.postfix else ""
        return f"{label}{count} [{fmt_seconds(elapsed)}{rate}]{post}" + (
            " done" if phase == "end" else "")

    def update(self, n: float = 1) -> None:
        with self._lock:
            self.n += n
            now = time.monotonic()
            since = now - self._last_time
            due = since >= self._interval
            pct = 0.0
            if self.total:
                pct = 100.0 * self.n / self.total
                due = due or (pct - self._last_pct >= self._step and self.n < self.total)
            # never more than one line per ``min_gap`` seconds (tqdm's mininterval)
            if not due or since < self._min_gap or self.closed:
                return
            self._last_time = now
            if self.total:
                self._last_pct = pct - pct % self._step
        self._sink.line(self._text("progress"))

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
        self._sink.line(self._text("end"))


class PlainRenderer(TextRenderer):
    """Timestamped lines; a panel writes one line per change of a row's state or note."""

    timestamps = True

    def bar(self, iterable: Iterable[Any] | None, desc: str | None, total: float | None,
            **kw: Any) -> Any:
        return PlainBar(self.sink, iterable, desc, total,
                        min_gap=float(kw.get("mininterval", 1.0)))

    def spinner_start(self, spinner: Spinner) -> Any:
        self.sink.line(f"… {spinner.msg}")
        return None
