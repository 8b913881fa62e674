"""What the two text front ends (terminal and plain) share: a line sink and line formats.

The plain front end draws exactly these lines (with a timestamp); the terminal front end
adds colour, live bars and tables redrawn in place on top of them.
"""

from __future__ import annotations

import sys
import threading
from typing import IO, TYPE_CHECKING, Any

from ._base import LOOKS, Renderer, fmt_seconds, stamp

if TYPE_CHECKING:
    from ._board import Board, BoardRow
    from ._status import Spinner

ANSI = {"green": "\x1b[32m", "red": "\x1b[31m", "yellow": "\x1b[33m", "dim": "\x1b[2m",
        "bold": "\x1b[1m", "reset": "\x1b[0m"}


class TextSink:
    """Writes whole lines: coloured or not, timestamped or not; counts its writes (so a
    table redrawn in place knows whether something was written below it)."""

    def __init__(self, file: IO[str] | None, *, colour: bool, timestamps: bool):
        self._file = file
        self.colour = colour
        self.timestamps = timestamps
        self.lock = threading.RLock()
        self.writes = 0

    @property
    def file(self) -> IO[str]:
        return self._file if self._file is not None else sys.stderr

    def paint(self, text: str, style: str | None) -> str:
        if not (self.colour and style):
            return text
        return f"{ANSI[style]}{text}{ANSI['reset']}"

    def line(self, text: str, style: str | None = None) -> None:
        prefix = f"{stamp()} " if self.timestamps else ""
        self.raw(prefix + self.paint(text, style) + "\n")

    def raw(self, text: str) -> None:
        with self.lock:
            self.writes += 1
            self.file.write(text)
            self.file.flush()


class CountingStream:
    """The sink's stream as given to tqdm: its writes count as the sink's writes."""

    def __init__(self, sink: TextSink) -> None:
        self._sink = sink

    def write(self, text: str) -> int:
        with self._sink.lock:
            self._sink.writes += 1
            return self._sink.file.write(text)

    def flush(self) -> None:
        self._sink.file.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sink.file, name)


class TextRenderer(Renderer):
    """Lines for spinners, panels and errors; subclasses add bars and a spinner start."""

    timestamps = False

    def __init__(self, settings: Any, *, file: IO[str] | None = None, **kw: Any) -> None:
        super().__init__(settings, file=file, **kw)
        self.sink = TextSink(file, colour=self.colour, timestamps=self.timestamps)

    def spinner_end(self, spinner: Spinner, token: Any) -> None:
        look = LOOKS[spinner.style]
        self.sink.line(f"{self.sink.paint(look.icon, look.ansi)} {spinner.text}")

    def row_text(self, panel: Board, row: BoardRow) -> str:
        """``✓ us-east-1 done (1.20s): 3 outputs``."""
        look = LOOKS[panel.style(row.state)]
        text = f"{self.sink.paint(look.icon, look.ansi)} {row.name} {row.state}"
        if row.seconds is not None:
            text += f" ({fmt_seconds(row.seconds)})"
        return text + (f": {row.note}" if row.note else "")

    def summary_text(self, panel: Board) -> str:
        look = LOOKS[panel.outcome]
        return (f"{self.sink.paint(look.icon, look.ansi)} "
                f"{self.sink.paint(panel.title, 'bold')}: {panel.summary()}")

    def panel_open(self, panel: Board) -> Any:
        self.sink.line(self.sink.paint(f"{panel.title} ({len(panel.rows)} {panel.noun})",
                                       "bold"))
        return None

    def panel_change(self, panel: Board, token: Any, row: BoardRow) -> None:
        self.sink.line(f"{panel.title}: {self.row_text(panel, row)}")

    def panel_close(self, panel: Board, token: Any) -> None:
        self.sink.line(self.summary_text(panel))

    def show_error(self, info: dict[str, str]) -> None:
        sink = self.sink
        with sink.lock:
            sink.line(f"{sink.paint('✗ ' + info['title'], 'red')}: {info['message']}")
            if info["suggestion"]:
                sink.line(f"  → {info['suggestion']}", "yellow")
            for line in info["detail"].rstrip().splitlines():
                sink.line("  " + line, "dim")
