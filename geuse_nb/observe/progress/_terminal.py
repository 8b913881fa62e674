"""The terminal front end: tqdm bars, ANSI colour (none with ``NO_COLOR`` or
``progress_no_color``), a spinner thread, and panels redrawn in place.

A panel (steps, board) is one compact table: each change moves the cursor back up over
the previous drawing (``ESC [ F`` once per line) and rewrites it, lines cut to the
terminal's width so that none wraps (a wrapped line would throw the count off). If
anything else was written through this front end since (a spinner, an error, another
panel, a finished bar), the table is drawn afresh below it rather than over it.

Live lines are the bottom of the screen: open bars sit below the tables and are cleared
and drawn again around a table's redraw (tqdm's ``external_write_mode``), so bar updates
do not push tables down. While anything is live, ``sys.stdout`` (a terminal) is routed
here (``_stdout.py``): a user's ``print`` clears the live lines, is written whole, and
the live lines are drawn again below it, as ``tqdm.write`` does. Measured in
``tests/test_terminal_prints.py`` (a real pty): 40 prints from 8 pmap jobs with a live
bar and table, every line intact, the final table below them. Logging to stderr and
writes to ``sys.__stdout__`` are not routed: they may still be drawn over.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any

from ._base import LOOKS, fmt_seconds
from ._stdout import live_ended, live_started
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
        on_close: Any = None  # the renderer's hook: the bar is no longer live

        def close(self) -> None:
            was_live = not self.disable
            super().close()
            if was_live and self.on_close is not None:
                self.on_close(self)

    return TtyBar


class BarStream(CountingStream):
    """The sink's stream as given to tqdm bars: a live bar's redraws are not "something
    written below a table" (bars are cleared around a table's redraw instead)."""

    def write(self, text: str) -> int:
        with self._sink.lock:
            return self._sink.file.write(text)


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
        self.bar_stream = BarStream(self.sink)  # one object: external_write_mode finds our bars
        self._bars: weakref.WeakSet[Any] = weakref.WeakSet()
        self._panels: dict[int, tuple[Board, _Drawing]] = {}
        self._spinning = 0
        self._live = 0
        self._live_lock = threading.Lock()

    # ------------------------------------------------ live lines and the user's prints
    def _live_change(self, delta: int) -> None:
        """Count live things; the first one routes sys.stdout here, the last one stops."""
        with self._live_lock:
            before, self._live = self._live, self._live + delta
        if before == 0 and self._live > 0:
            if self._on_terminal():  # into a file or a buffer, prints cannot collide
                live_started(self.print_above)
        elif before > 0 and self._live == 0:
            live_ended(self.print_above)

    def _on_terminal(self) -> bool:
        try:
            return bool(self.sink.file.isatty())
        except (AttributeError, ValueError, OSError):
            return False

    @contextlib.contextmanager
    def _bars_cleared(self) -> Iterator[None]:
        """Clear our live bars, and draw them again afterwards (tqdm's lock is taken
        before the sink's, in this order everywhere)."""
        if any(not bar.disable for bar in list(self._bars)):
            bar_class: Any = tty_bar_class()
            with bar_class.external_write_mode(file=self.bar_stream):
                yield
        else:
            yield

    def print_above(self, text: str, stdout: IO[str]) -> None:
        """Write ``text`` (whole lines) to ``stdout`` above the live lines: clear them
        (a spinner's line, the bottom table, the bars), write, draw them again."""
        with self._bars_cleared(), self.sink.lock:
            sink = self.sink
            bottom = [(panel, drawing) for panel, drawing in self._panels.values()
                      if drawing.lines and drawing.mark == sink.writes]
            clear = "\r\x1b[2K" if self._spinning else ""
            clear += "".join("\x1b[F" * drawing.lines + "\x1b[J" for _, drawing in bottom)
            if clear:
                sink.raw(clear)
            stdout.write(text)
            stdout.flush()
            sink.writes += 1
            for panel, drawing in bottom:
                drawing.lines = 0
                self._draw_lines(self.table(panel), drawing)

    # ------------------------------------------------ bars
    def bar(self, iterable: Iterable[Any] | None, desc: str | None, total: float | None,
            **kw: Any) -> Any:
        kw.setdefault("file", self.bar_stream)
        if self.colour:
            kw.setdefault("colour", "green")
        kw.setdefault("dynamic_ncols", True)
        bar = tty_bar_class()(iterable, desc=desc, total=total, **kw)
        if not bar.disable:
            self._bars.add(bar)
            bar.on_close = self._bar_closed
            self._live_change(+1)
        return bar

    def _bar_closed(self, bar: Any) -> None:
        if bar.leave or bar.leave is None:
            with self.sink.lock:
                self.sink.writes += 1  # its last line stays: a table now draws below it
        self._live_change(-1)

    # ------------------------------------------------ spinner: a thread redrawing one line
    def spinner_start(self, spinner: Spinner) -> Any:
        self._spinning += 1
        self._live_change(+1)
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
        self._spinning -= 1
        self._live_change(-1)

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
        with self._bars_cleared(), self.sink.lock:
            self._draw_lines(lines, drawing)

    def _draw_lines(self, lines: list[str], drawing: _Drawing) -> None:
        """Under the sink's lock, with the bars cleared."""
        up = ""
        if drawing.lines and drawing.mark == self.sink.writes:
            up = "\x1b[F" * drawing.lines  # nothing below us: draw over the last one
        self.sink.raw(up + "".join(f"\x1b[2K{line}\n" for line in lines))
        drawing.lines, drawing.mark = len(lines), self.sink.writes

    def panel_open(self, panel: Board) -> Any:
        super().panel_open(panel)
        drawing = _Drawing()
        self._draw(panel, drawing)
        with self.sink.lock:
            self._panels[id(panel)] = (panel, drawing)
        self._live_change(+1)
        return drawing

    def panel_change(self, panel: Board, token: Any, row: BoardRow) -> None:
        self._draw(panel, token)

    def panel_close(self, panel: Board, token: Any) -> None:
        self._draw(panel, token)
        with self.sink.lock:
            self._panels.pop(id(panel), None)
        super().panel_close(panel, token)
        self._live_change(-1)
