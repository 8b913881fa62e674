"""The quiet front end (``progress_quiet``): nothing is drawn, everything still counts.

Bars iterate and count, spinners time, steps and boards keep their rows (``frame()``
works): only the drawing is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ._base import Bar, Renderer

if TYPE_CHECKING:
    from ._board import Board, BoardRow
    from ._status import Spinner


class QuietRenderer(Renderer):
    """Draws nothing."""

    def bar(self, iterable: Iterable[Any] | None, desc: str | None, total: float | None,
            **kw: Any) -> Any:
        return Bar(iterable, desc, total)

    def spinner_start(self, spinner: Spinner) -> Any:
        return None

    def spinner_end(self, spinner: Spinner, token: Any) -> None:
        return None

    def panel_open(self, panel: Board) -> Any:
        return None

    def panel_change(self, panel: Board, token: Any, row: BoardRow) -> None:
        return None

    def panel_close(self, panel: Board, token: Any) -> None:
        return None

    def show_error(self, info: dict[str, str]) -> None:
        return None
