"""What every progress front end shares: the names, the looks and the renderer interface.

A front end is one :class:`Renderer` subclass that overrides seven hooks (``bar``,
``spinner_start``/``spinner_end``, ``panel_open``/``panel_change``/``panel_close`` and
``show_error``), as tqdm's notebook bar is ``tqdm.std.tqdm`` with ``display``/``close``
overridden. The views (:class:`~._status.MapStatus`, :class:`~._status.Spinner`,
:class:`~._board.Board`, :class:`~._steps.StepTracker`) keep the state and call the hooks;
they never ask which front end is live.
"""

from __future__ import annotations

import abc
import enum
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from ...errors import GeuseError, UsageError

if TYPE_CHECKING:
    from ...config import Settings
    from ._board import Board, BoardRow
    from ._status import Spinner


class FrontEnd(enum.StrEnum):
    """The built-in front ends (``register_frontend`` adds more by name)."""

    NOTEBOOK = "notebook"  # widgets while running, a static HTML record when done
    TERMINAL = "tty"  # tqdm bars, ANSI colour, tables redrawn in place
    PLAIN = "plain"  # timestamped lines: CI, papermill logs, pipes
    QUIET = "quiet"  # nothing drawn; everything still counts


class Style(enum.StrEnum):
    """How a state looks (a board maps its states onto these)."""

    OK = "ok"
    BAD = "bad"
    WARN = "warn"
    BUSY = "busy"
    DIM = "dim"


class Look(NamedTuple):
    icon: str
    ansi: str  # a key of the terminal's colour table
    html: str  # a CSS colour


LOOKS: dict[Style, Look] = {
    Style.OK: Look("✓", "green", "#2e7d32"),
    Style.BAD: Look("✗", "red", "#c62828"),
    Style.WARN: Look("!", "yellow", "#ef6c00"),
    Style.BUSY: Look("▶", "yellow", "#1565c0"),
    Style.DIM: Look("○", "dim", "#9e9e9e"),
}


def fmt_seconds(seconds: float) -> str:
    """``0.12s``, ``12.3s``, ``2m05s``, ``1h02m05s``."""
    if seconds < 60:
        return f"{seconds:.2f}s" if seconds < 10 else f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s"


def stamp() -> str:
    """The local wall-clock time, to the second, as plain lines start with."""
    return time.strftime("%Y-%m-%dT%H:%M:%S")


def describe_error(exc: BaseException, *, verbose: bool = False) -> dict[str, str]:
    """What to show for ``exc``: title, message, suggestion and (verbose) traceback detail."""
    if isinstance(exc, GeuseError):
        message = str(exc.args[0]) if exc.args else type(exc).__name__
        suggestion = exc.suggestion or ""
    else:
        message = str(exc) or type(exc).__name__
        suggestion = getattr(exc, "suggestion", "") or ""
    detail = ""
    if verbose:
        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return {"title": type(exc).__name__, "message": message, "suggestion": suggestion,
            "detail": detail}


class Bar:
    """A bar that counts and draws nothing (tqdm's interface, the part the kit uses).

    Front ends subclass it (plain lines) or return a tqdm bar with the same methods.
    ``failed`` is set by a job-status line when a job failed (a notebook bar turns red).
    """

    failed = False

    def __init__(self, iterable: Iterable[Any] | None = None, desc: str | None = None,
                 total: float | None = None):
        self.iterable = iterable
        self.desc = desc or ""
        self.total = total
        self.n: float = 0
        self.postfix = ""
        self.closed = False
        self.start = time.monotonic()

    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            raise UsageError("this progress bar has no iterable",
                             suggestion="pass an iterable, or call .update(n) yourself")
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __len__(self) -> int:
        return int(self.total or 0)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: float = 1) -> None:
        self.n += n

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or ""

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = s

    def refresh(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True


class Renderer(abc.ABC):
    """One front end: how bars, spinners, panels (steps, boards) and errors are drawn.

    Built with the kit's settings, the text stream (``file``, default stderr) and the
    notebook display function (``display``, default IPython's); a front end uses what it
    needs. Hooks are called from any thread; a panel's hooks are called under the panel's
    lock, so one panel's drawings never interleave.
    """

    colour: bool = False  # whether this front end paints ANSI colour

    def __init__(self, settings: Settings, *, file: IO[str] | None = None,
                 display: Callable[..., Any] | None = None) -> None:
        self.settings = settings

    @abc.abstractmethod
    def bar(self, iterable: Iterable[Any] | None, desc: str | None, total: float | None,
            **kw: Any) -> Any:
        """A tqdm-like bar (a :class:`Bar` or a tqdm instance); ``kw`` are tqdm's options."""

    @abc.abstractmethod
    def spinner_start(self, spinner: Spinner) -> Any:
        """Show that ``spinner.msg`` is running; returns a token given to ``spinner_end``."""

    @abc.abstractmethod
    def spinner_end(self, spinner: Spinner, token: Any) -> None:
        """Replace the running spinner by its result (``spinner.ok``, ``spinner.text``)."""

    @abc.abstractmethod
    def panel_open(self, panel: Board) -> Any:
        """Show a new panel (a board or a step tracker); returns its token."""

    @abc.abstractmethod
    def panel_change(self, panel: Board, token: Any, row: BoardRow) -> None:
        """``row`` of ``panel`` changed state or note."""

    @abc.abstractmethod
    def panel_close(self, panel: Board, token: Any) -> None:
        """Leave the panel's final record (``panel.summary()``, ``panel.failed``)."""

    @abc.abstractmethod
    def show_error(self, info: dict[str, str]) -> None:
        """Show an error as :func:`describe_error` describes it."""
