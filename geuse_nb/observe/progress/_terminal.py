"""The terminal front end: tqdm bars, ANSI colour (none with ``NO_COLOR`` or
``progress_no_color``), a spinner thread, and panels redrawn in place.

A panel (steps, board) is one compact table: each change moves the cursor back up over
the previous drawing (``ESC [ F`` once per line) and rewrites it, lines cut to the
terminal's width so that none wraps (a wrapped line would throw the count off). If
anything else was written through this front end since (a spinner, an error, another
panel, a bar), the table is drawn afresh below it rather than over it. Output written to
the stream by others (print, logging) is not seen: the table may then overwrite it.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
import time
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any

from ._base import LOOKS, fmt_seconds
from ._text import CountingStream, TextRenderer

if TYPE_CHECKING:
    from ._board import Board, BoardRow
    from ._status import Spinner

SPIN_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
DEFAULT_WIDTH = 120  # when the stream cannot say (not a real terminal)


@functools.cache
def tty_bar_class() -> type:
    """tqdm's terminal bar without its monitor thread (a thread that outlives the bar by
    10 s); created on first use so that importing the kit does not import tqdm."""
    from tqdm.std import tqdm

    class TtyBar(tqdm):
        monitor_interval = 0
        failed = False

    return TtyBar


@dataclasses.dataclass
class _Drawing:
    """Where a panel's last drawing is: its line count and the sink's write count after it."""

    lines: int = 0
    mark: int = -1


class TerminalRenderer(TextRenderer):
    """tqdm bars and in-place tables for an interactive terminal."""

    def __init__(self, settings: Any, *, file: IO[str] | None = None, **kw: Any) -> None:
        self.colour = not (settings.progress_no_color or os.environ.get("NO_COLOR"))
        super().__init__(settings, file=file, **kw)

    def bar(self, iterable: Iterable[Any] | None, desc: str | None, total: float | None,
            **kw: Any) -> Any:
        kw.setdefault("file", CountingStream(self.sink))
        if self.colour:
            kw.setdefault("colour", "green")
        kw.setdefault("dynamic_ncols", True)
        return tty_bar_class()(iterable, desc=desc, total=total, **kw)

    # ------------------------------------------------ spinner: a thread redrawing one line
    def spinner_start(self, spinner: Spinner) -> Any:
        stop = threading.Event()
        thread = threading.Thread(target=self._spin, args=(spinner, stop),
                                  name="geuse-spinner", daemon=True)
        thread.start()
        return thread, stop

    def _spin(self, spinner: Spinner, stop: threading.Event) -> None:
        sink, i = self.sink, 0
        while not stop.wait(0.1 if i else 0.0):
            frame = SPIN_FRAMES[i % len(SPIN_FRAMES)]
            elapsed = fmt_seconds(time.monotonic() - spinner.started)
            sink.raw(f"\r{sink.paint(frame, 'yellow')} {spinner.msg} "
                     f"{sink.paint(elapsed, 'dim')}")
            i += 1

    def spinner_end(self, spinner: Spinner, token: Any) -> None:
        thread, stop = token
        stop.set()
        thread.join()
        self.sink.raw("\r\x1b[2K")
        super().spinner_end(spinner, token)

    # ------------------------------------------------ panels: redrawn in place
    def width(self) -> int:
        try:
            return os.get_terminal_size(self.sink.file.fileno()).columns
        except (AttributeError, ValueError, OSError):  # not a real terminal
            return DEFAULT_WIDTH

    def table(self, panel: Board) -> list[str]:
        """One line per row: icon, name, state, time, note; cut to the terminal's width."""
        rows = list(panel.rows.values())
        name_w = max(len(r.name) for r in rows)
        state_w = max(len(r.state) for r in rows)
        room = self.width() - 1
        lines = []
        for r in rows:
            look = LOOKS[panel.style(r.state)]
            secs = fmt_seconds(r.seconds) if r.seconds is not None else ""
            rest = f" {r.name:<{name_w}}  {r.state:<{state_w}}  {secs:>8}"
            rest = (rest + (f"  {r.note}" if r.note else ""))[: max(room - 3, 0)]
            lines.append(f"  {self.sink.paint(look.icon, look.ansi)}{rest}")
        return lines

    def _draw(self, panel: Board, drawing: _Drawing) -> None:
        lines = self.table(panel)
        with self.sink.lock:
            up = ""
            if drawing.lines and drawing.mark == self.sink.writes:
                up = "\x1b[F" * drawing.lines  # nothing below us: draw over the last one
            self.sink.raw(up + "".join(f"\x1b[2K{line}\n" for line in lines))
            drawing.lines, drawing.mark = len(lines), self.sink.writes

    def panel_open(self, panel: Board) -> Any:
        super().panel_open(panel)
        drawing = _Drawing()
        self._draw(panel, drawing)
        return drawing

    def panel_change(self, panel: Board, token: Any, row: BoardRow) -> None:
        self._draw(panel, token)

    def panel_close(self, panel: Board, token: Any) -> None:
        self._draw(panel, token)
        super().panel_close(panel, token)
