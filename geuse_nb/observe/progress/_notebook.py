"""The notebook front end: live output while running, static HTML when done.

Bars are tqdm's widget bars; spinners, steps and boards are HTML updated in place through
one IPython display handle each. Whatever closes is replaced by a static HTML record of its
final state, so a saved or exported notebook shows the result without widget JavaScript
(and without a "widget not found" box where the bar was).
"""

from __future__ import annotations

import contextlib
import functools
import html
from collections.abc import Callable, Iterable
from typing import IO, TYPE_CHECKING, Any

from ._base import LOOKS, Renderer, Style, fmt_seconds

if TYPE_CHECKING:
    from ._board import Board, BoardRow
    from ._status import Spinner

NB_STYLE = ("font-family:var(--jp-code-font-family,monospace);font-size:12px;"
            "padding:2px 0;")


class NotebookSink:
    """Displays HTML through IPython display handles; ``replace`` swaps one output in place."""

    def __init__(self, display: Callable[..., Any] | None):
        self._display = display

    def show(self, obj: Any) -> Any:
        """Display a widget or HTML string; returns a handle (or None) for ``replace``."""
        if self._display is not None:
            display = self._display
        else:
            from IPython.display import display
        if isinstance(obj, str):
            from IPython.display import HTML

            obj = HTML(obj)
        return display(obj, display_id=True)

    def replace(self, handle: Any, html_text: str) -> None:
        """Replace what ``handle`` shows by static HTML (or show it anew if there's no handle)."""
        from IPython.display import HTML

        if handle is not None:
            handle.update(HTML(html_text))
        else:
            self.show(html_text)


def line_html(style: Style, text: str) -> str:
    look = LOOKS[style]
    return (f'<div class="geuse-progress" style="{NB_STYLE}">'
            f'<span style="color:{look.html};font-weight:bold">{html.escape(look.icon)}'
            f"</span> {html.escape(text)}</div>")


def bar_html(desc: str, n: float, total: float | None, tail: str, ok: bool) -> str:
    pct = 100.0 * n / total if total else 100.0
    colour = LOOKS[Style.OK if ok else Style.BAD].html
    return (f'<div class="geuse-progress" style="{NB_STYLE}display:flex;gap:8px;'
            f'align-items:center"><span>{html.escape(desc)}</span>'
            f'<span style="display:inline-block;width:200px;height:10px;background:#e0e0e0;'
            f'border-radius:3px"><span style="display:block;height:10px;width:{pct:.0f}%;'
            f'background:{colour};border-radius:3px"></span></span>'
            f"<span>{html.escape(tail)}</span></div>")


def panel_html(panel: Board) -> str:
    """The panel as one table: icon, name, state, time, note; its summary in the title."""
    rows = []
    for r in panel.rows.values():
        look = LOOKS[panel.style(r.state)]
        secs = fmt_seconds(r.seconds) if r.seconds is not None else ""
        rows.append(
            f'<tr><td style="color:{look.html};font-weight:bold">{html.escape(look.icon)}'
            f"</td><td>{html.escape(r.name)}</td>"
            f'<td style="color:{look.html}">{html.escape(r.state)}</td>'
            f'<td style="text-align:right;padding:0 6px">{secs}</td>'
            f"<td>{html.escape(r.note)}</td></tr>")
    head = "".join(f'<th style="text-align:left">{h}</th>'
                   for h in ("", "name", "state", "time", "note"))
    return (f'<div class="geuse-{panel.kind}" style="{NB_STYLE}">'
            f"<b>{html.escape(panel.title)}</b> <span>{html.escape(panel.summary())}</span>"
            f'<table style="border-collapse:collapse"><tr>{head}</tr>{"".join(rows)}'
            f"</table></div>")


@functools.cache
def notebook_bar_class() -> type:
    """tqdm's widget bar, becoming static HTML when it closes (created on first use:
    importing tqdm.notebook imports ipywidgets)."""
    from tqdm.notebook import tqdm_notebook

    class NotebookBar(tqdm_notebook):
        monitor_interval = 0
        failed = False

        def __init__(self, *args: Any, geuse_sink: NotebookSink, **kwargs: Any) -> None:
            self._geuse_sink = geuse_sink
            self._geuse_handle = None
            self._geuse_done = False
            kwargs["display"] = False
            super().__init__(*args, **kwargs)
            if not self.disable:
                self._geuse_handle = geuse_sink.show(self.container)

        def close(self) -> None:
            if self.disable or self._geuse_done:
                return
            self._geuse_done = True
            super().close()
            d = dict(self.format_dict)
            d["bar_format"] = "{n_fmt}/{total_fmt} [{elapsed}, {rate_fmt}]{postfix}"
            tail = self.format_meter(**d)
            ok = not (self.total and self.n < self.total) and not self.failed
            final = bar_html(self.desc.rstrip(": ") or "", self.n, self.total, tail, ok)
            self._geuse_sink.replace(self._geuse_handle, final)
            with contextlib.suppress(Exception):
                self.container.close()  # drop the widget comm: the HTML stays

    return NotebookBar


class NotebookRenderer(Renderer):
    """Widgets and HTML through IPython's display (or the ``display`` given)."""

    def __init__(self, settings: Any, *, file: IO[str] | None = None,
                 display: Callable[..., Any] | None = None) -> None:
        super().__init__(settings, file=file, display=display)
        self.nb = NotebookSink(display)

    def bar(self, iterable: Iterable[Any] | None, desc: str | None, total: float | None,
            **kw: Any) -> Any:
        return notebook_bar_class()(iterable, desc=desc, total=total, geuse_sink=self.nb,
                                    **kw)

    def spinner_start(self, spinner: Spinner) -> Any:
        return self.nb.show(line_html(Style.BUSY, f"… {spinner.msg}"))

    def spinner_end(self, spinner: Spinner, token: Any) -> None:
        self.nb.replace(token, line_html(spinner.style, spinner.text))

    def panel_open(self, panel: Board) -> Any:
        return self.nb.show(panel_html(panel))

    def panel_change(self, panel: Board, token: Any, row: BoardRow) -> None:
        self.nb.replace(token, panel_html(panel))

    def panel_close(self, panel: Board, token: Any) -> None:
        self.nb.replace(token, panel_html(panel))

    def show_error(self, info: dict[str, str]) -> None:
        bad = LOOKS[Style.BAD].html
        parts = [f'<div class="geuse-error" style="{NB_STYLE}border-left:3px solid {bad};'
                 f'padding-left:6px"><b style="color:{bad}">✗ {html.escape(info["title"])}'
                 f"</b>: {html.escape(info['message'])}"]
        if info["suggestion"]:
            parts.append(f"<div>→ {html.escape(info['suggestion'])}</div>")
        if info["detail"]:
            parts.append(f"<pre>{html.escape(info['detail'])}</pre>")
        self.nb.show("".join(parts) + "</div>")
