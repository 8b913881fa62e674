"""``Progress``: the kit's progress object, drawing through the front end chosen once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

from ._base import Renderer, describe_error
from ._board import Board
from ._registry import choose_frontend, frontend_class, in_notebook_kernel
from ._status import MapStatus, Spinner
from ._steps import StepTracker

if TYPE_CHECKING:
    from ...config import Settings

log = logging.getLogger(__name__)


class Progress:
    """The kit's progress front end: ``bar``, ``status``, ``spinner``, ``steps``, ``board``,
    ``error``.

    ``frontend`` overrides the automatic choice (a :class:`FrontEnd` or a registered
    name); ``file`` is the text stream (default stderr); ``display`` replaces
    ``IPython.display.display`` (embedding, tests); ``kernel`` is the in-a-notebook
    predicate. The choice is made here, once: ``renderer`` is the chosen front end's
    instance and everything draws through it.
    """

    def __init__(self, settings: Settings, *, frontend: str | None = None,
                 file: IO[str] | None = None, display: Callable[..., Any] | None = None,
                 kernel: Callable[[], bool] = in_notebook_kernel) -> None:
        self.settings = settings
        self.frontend: str = choose_frontend(settings, file, frontend=frontend, kernel=kernel)
        self.renderer: Renderer = frontend_class(self.frontend)(settings, file=file,
                                                                 display=display)

    @property
    def colour(self) -> bool:
        """Whether the front end paints ANSI colour."""
        return self.renderer.colour

    def bar(self, iterable: Iterable[Any] | None = None, desc: str | None = None,
            total: float | None = None, **kw: Any) -> Any:
        """A progress bar (tqdm-like: iterate it, or ``update(n)`` it inside ``with``)."""
        return self.renderer.bar(iterable, desc, total, **kw)

    def status(self, desc: str | None, total: int) -> MapStatus:
        """The live status line of a parallel map (see :class:`MapStatus`)."""
        return MapStatus(self.renderer.bar(None, desc, total), total)

    def spinner(self, msg: str) -> Spinner:
        """A context manager showing ``msg`` while it runs, then ✓/✗ with the elapsed time."""
        return Spinner(self, msg)

    def steps(self, title: str, names: Iterable[str]) -> StepTracker:
        """A multi-step tracker (see :class:`StepTracker`)."""
        return StepTracker(self, title, names)

    def board(self, title: str, names: Sequence[str], *, initial: str = "queued",
              styles: Mapping[str, str] | None = None) -> Board:
        """A live table, one row per name, with state, note and elapsed time (see
        :class:`Board`)."""
        return Board(self, title, names, initial=initial, styles=styles)

    def error(self, exc: BaseException) -> dict[str, str]:
        """Show ``exc`` with its suggestion (and traceback when verbose errors are on)."""
        info = describe_error(exc, verbose=self.settings.progress_verbose_errors)
        log.debug("%s: %s", info["title"], info["message"])
        self.renderer.show_error(info)
        return info
