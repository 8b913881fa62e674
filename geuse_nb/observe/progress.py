"""Progress that looks right wherever it runs: notebook widgets, a colour terminal,
timestamped plain lines (CI, papermill logs, pipes) or nothing at all (quiet).

One function, :func:`choose_frontend`, decides the front end, like ``tqdm.auto``:

- ``"quiet"``    when ``settings.progress_quiet``: nothing is written;
- ``"notebook"`` inside an IPython kernel with ipywidgets importable: widgets while
  running, replaced by a static HTML record of the final state when done, so a saved or
  exported notebook shows the result without widget JavaScript;
- ``"tty"``      when the output stream is a terminal: tqdm bars, ANSI colour unless
  ``settings.progress_no_color`` (``NO_COLOR`` sets it);
- ``"plain"``    otherwise: timestamped lines, never control codes, and not chatty (a line at
  start, one per 10 % or per ``plain_interval`` seconds, and one at the end).

``Progress(settings, frontend=..., file=...)`` accepts an override and a stream, for tests and
for embedding. Everything a bar opens is closed by the end of its ``with`` block or iteration.
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

from ..errors import GeuseError, UsageError, did_you_mean

if TYPE_CHECKING:
    import pandas as pd

    from ..config import Settings

log = logging.getLogger(__name__)

FRONTENDS = ("notebook", "tty", "plain", "quiet")
PLAIN_INTERVAL = 10.0  # seconds between plain progress lines at most
PLAIN_STEP = 10.0  # percent between plain progress lines at most

_ANSI = {"green": "\x1b[32m", "red": "\x1b[31m", "yellow": "\x1b[33m", "dim": "\x1b[2m",
         "bold": "\x1b[1m", "reset": "\x1b[0m"}
_SPIN_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


# ---------------------------------------------------------------- front-end choice
def in_notebook_kernel() -> bool:
    """True inside a Jupyter kernel (``get_ipython().kernel`` exists) with ipywidgets."""
    if "IPython" not in sys.modules:  # never import IPython just to ask
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return False
    import importlib.util

    return importlib.util.find_spec("ipywidgets") is not None


def choose_frontend(
    settings: Settings,
    file: IO[str] | None = None,
    *,
    frontend: str | None = None,
    kernel: Callable[[], bool] = in_notebook_kernel,
) -> str:
    """The one place that decides the front end (see the module docstring for the rules).

    ``frontend`` overrides the choice (except that quiet settings always win);
    ``kernel`` is the "are we in a notebook kernel" predicate, injectable for tests.
    An explicit ``file`` means text output, so the kernel is not consulted then.
    """
    if frontend is not None and frontend not in FRONTENDS:
        raise UsageError(f"progress frontend {frontend!r} is not known",
                         suggestion="use one of " + ", ".join(FRONTENDS) + " (or None: auto)")
    if settings.progress_quiet:
        return "quiet"
    if frontend is not None:
        return frontend
    if file is None and kernel():
        return "notebook"
    stream = file if file is not None else sys.stderr
    try:
        interactive = bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or not a real stream
        interactive = False
    return "tty" if interactive else "plain"


def _fmt_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.2f}s" if seconds < 10 else f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s"


def _stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


# ---------------------------------------------------------------- output sinks
class _TextSink:
    """Writes whole lines: coloured in a TTY, timestamped and code-free in plain mode."""

    def __init__(self, file: IO[str] | None, *, colour: bool, timestamps: bool):
        self._file = file
        self.colour = colour
        self.timestamps = timestamps
        self.lock = threading.RLock()

    @property
    def file(self) -> IO[str]:
        return self._file if self._file is not None else sys.stderr

    def paint(self, text: str, style: str | None) -> str:
        if not (self.colour and style):
            return text
        return f"{_ANSI[style]}{text}{_ANSI['reset']}"

    def line(self, text: str, style: str | None = None) -> None:
        prefix = f"{_stamp()} " if self.timestamps else ""
        with self.lock:
            self.file.write(prefix + self.paint(text, style) + "\n")
            self.file.flush()

    def raw(self, text: str) -> None:
        with self.lock:
            self.file.write(text)
            self.file.flush()


class _NotebookSink:
    """Displays HTML through IPython display handles; ``update`` replaces the output in place."""

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


_NB_STYLE = ("font-family:var(--jp-code-font-family,monospace);font-size:12px;"
             "padding:2px 0;")


def _nb_line(icon: str, colour: str, text: str) -> str:
    return (f'<div class="geuse-progress" style="{_NB_STYLE}">'
            f'<span style="color:{colour};font-weight:bold">{html.escape(icon)}</span> '
            f"{html.escape(text)}</div>")


def _nb_bar(desc: str, n: float, total: float | None, tail: str, ok: bool) -> str:
    pct = 100.0 * n / total if total else 100.0
    colour = "#2e7d32" if ok else "#c62828"
    return (f'<div class="geuse-progress" style="{_NB_STYLE}display:flex;gap:8px;'
            f'align-items:center"><span>{html.escape(desc)}</span>'
            f'<span style="display:inline-block;width:200px;height:10px;background:#e0e0e0;'
            f'border-radius:3px"><span style="display:block;height:10px;width:{pct:.0f}%;'
            f'background:{colour};border-radius:3px"></span></span>'
            f"<span>{html.escape(tail)}</span></div>")


# ---------------------------------------------------------------- bars
class _NullBar:
    """Quiet bar: iterates and counts, draws nothing."""

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


class _PlainBar(_NullBar):
    """Timestamped lines: at start, then when ``interval`` s or ``step`` % has passed (but at
    most one per ``min_gap`` s), and at end."""

    def __init__(self, sink: _TextSink, iterable: Iterable[Any] | None, desc: str | None,
                 total: float | None, *, interval: float = PLAIN_INTERVAL,
                 step: float = PLAIN_STEP, min_gap: float = 1.0):
        if total is None and iterable is not None:
            with contextlib.suppress(TypeError):
                total = len(iterable)  # type: ignore[arg-type]
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
        return f"{label}{count} [{_fmt_seconds(elapsed)}{rate}]{post}" + (
            " done" if phase == "end" else "")

    def update(self, n: float = 1) -> None:
        with self._lock:
            self.n += n
            now = time.monotonic()
            since = now - self._last_time
            due = since >= self._interval
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


def _tqdm_class(frontend: str) -> type:
    """tqdm's terminal bar, or a notebook bar that leaves a static HTML record when closed."""
    if frontend == "tty":
        from tqdm.std import tqdm

        class _TtyBar(tqdm):  # type: ignore[misc]
            """tqdm without its monitor thread (a thread that outlives the bar by 10 s)."""

            monitor_interval = 0

        return _TtyBar
    from tqdm.notebook import tqdm_notebook

    class _NotebookBar(tqdm_notebook):  # type: ignore[misc]
        """A tqdm widget bar that becomes static HTML when it closes."""

        monitor_interval = 0

        def __init__(self, *args: Any, geuse_sink: _NotebookSink, **kwargs: Any) -> None:
            self._geuse_sink = geuse_sink
            self._geuse_handle = None
            kwargs["display"] = False
            super().__init__(*args, **kwargs)
            if not self.disable:
                self._geuse_handle = geuse_sink.show(self.container)

        def close(self) -> None:
            if self.disable or getattr(self, "_geuse_done", False):
                return
            self._geuse_done = True
            super().close()
            d = dict(self.format_dict)
            d["bar_format"] = "{n_fmt}/{total_fmt} [{elapsed}, {rate_fmt}]{postfix}"
            tail = self.format_meter(**d)
            ok = not (self.total and self.n < self.total) and not getattr(
                self, "_geuse_failed", False)
            final = _nb_bar(self.desc.rstrip(": ") or "", self.n, self.total, tail, ok)
            self._geuse_sink.replace(self._geuse_handle, final)
            with contextlib.suppress(Exception):
                self.container.close()  # drop the widget comm: the HTML stays

    return _NotebookBar


# ---------------------------------------------------------------- job status
class JobStatus:
    """The live job-status line of the parallel engine.

    ``update(done=, failed=, running=, retrying=, cancelled=)`` takes the CURRENT counts
    (absolute, not increments); omitted counts keep their value. The bar advances by
    finished jobs (done + failed + cancelled).
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
                self._bar._geuse_failed = True
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

    def __enter__(self) -> JobStatus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- spinner
class Spinner:
    """``with progress.spinner("creating stack"):`` — ✓ or ✗ with the elapsed time at the end."""

    def __init__(self, progress: Progress, msg: str):
        self._p = progress
        self.msg = msg
        self.ok: bool | None = None
        self.seconds: float | None = None
        self._start = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._handle: Any = None

    def __enter__(self) -> Spinner:
        self._start = time.monotonic()
        fe = self._p.frontend
        if fe == "plain":
            self._p._text.line(f"… {self.msg}")
        elif fe == "notebook":
            self._handle = self._p._nb.show(_nb_line("…", "#1565c0", self.msg))
        elif fe == "tty":
            self._thread = threading.Thread(target=self._spin, name="geuse-spinner",
                                            daemon=True)
            self._thread.start()
        return self

    def _spin(self) -> None:
        sink = self._p._text
        i = 0
        while not self._stop.wait(0.1 if i else 0.0):
            frame = _SPIN_FRAMES[i % len(_SPIN_FRAMES)]
            elapsed = _fmt_seconds(time.monotonic() - self._start)
            sink.raw(f"\r{sink.paint(frame, 'yellow')} {self.msg} {sink.paint(elapsed, 'dim')}")
            i += 1

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.seconds = time.monotonic() - self._start
        self.ok = exc is None
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
        icon, style = ("✓", "green") if self.ok else ("✗", "red")
        text = f"{self.msg} ({_fmt_seconds(self.seconds)})"
        if exc is not None:
            text += f": {type(exc).__name__}"
        fe = self._p.frontend
        if fe in ("tty", "plain"):
            sink = self._p._text
            if fe == "tty":
                sink.raw("\r\x1b[2K")
            sink.line(f"{sink.paint(icon, style)} {text}")
        elif fe == "notebook":
            self._p._nb.replace(self._handle, _nb_line(
                icon, "#2e7d32" if self.ok else "#c62828", text))
        if exc is not None and isinstance(exc, Exception):
            self._p.error(exc)


# ---------------------------------------------------------------- steps
@dataclasses.dataclass
class Step:
    """One step of a :class:`StepTracker`."""

    name: str
    state: str = "pending"  # pending | running | done | failed
    started: float | None = None
    ended: float | None = None
    error: str | None = None

    @property
    def seconds(self) -> float | None:
        if self.started is None:
            return None
        return (self.ended if self.ended is not None else time.monotonic()) - self.started


_STEP_ICONS = {"pending": ("○", None, "#9e9e9e"), "running": ("▶", "yellow", "#1565c0"),
               "done": ("✓", "green", "#2e7d32"), "failed": ("✗", "red", "#c62828")}


class StepTracker:
    """A multi-step tracker: pending/running/done/failed per step with elapsed times.

    Use as a context manager with ``.start(name)``/``.done(name)``/``.fail(name, error)``, or
    ``with tracker.step("vpc"): ...`` per step (done on success, failed on exception).
    """

    def __init__(self, progress: Progress, title: str, names: Iterable[str]):
        names = [str(n) for n in names]
        if not names:
            raise UsageError(f"steps({title!r}, names) got no step names",
                             suggestion="pass the step names in order, e.g. ['vpc', 'sg']")
        if len(set(names)) != len(names):
            raise UsageError(f"steps({title!r}) has duplicate step names: {names}",
                             suggestion="give every step a unique name")
        self._p = progress
        self.title = title
        self.steps: dict[str, Step] = {n: Step(n) for n in names}
        self._lock = threading.RLock()
        self._start = time.monotonic()
        self._handle: Any = None
        self.closed = False
        fe = progress.frontend
        if fe in ("tty", "plain"):
            sink = progress._text
            sink.line(sink.paint(f"{title} ({len(names)} steps)", "bold"))
        elif fe == "notebook":
            self._handle = progress._nb.show(self._html())

    def _get(self, name: str) -> Step:
        try:
            return self.steps[name]
        except KeyError:
            raise UsageError(f"step {name!r} is not one of {list(self.steps)}",
                             suggestion="use a name given to steps(title, names)") from None

    def start(self, name: str) -> None:
        """Mark ``name`` running."""
        with self._lock:
            step = self._get(name)
            step.state, step.started, step.ended, step.error = (
                "running", time.monotonic(), None, None)
            self._render(step)

    def done(self, name: str) -> None:
        """Mark ``name`` done (starting it now if it never started)."""
        self._finish(name, "done", None)

    def fail(self, name: str, error: BaseException | str | None = None) -> None:
        """Mark ``name`` failed with ``error`` (an exception or a message)."""
        if isinstance(error, BaseException):
            error = f"{type(error).__name__}: {error}"
        self._finish(name, "failed", error)

    def _finish(self, name: str, state: str, error: str | None) -> None:
        with self._lock:
            step = self._get(name)
            now = time.monotonic()
            if step.started is None:
                step.started = now
            step.state, step.ended, step.error = state, now, error
            self._render(step)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[Step]:
        """Run one step: running on entry, done on success, failed (and re-raised) on error."""
        self.start(name)
        try:
            yield self.steps[name]
        except BaseException as exc:
            self.fail(name, exc)
            raise
        self.done(name)

    def _render(self, step: Step) -> None:
        fe = self._p.frontend
        if fe in ("tty", "plain"):
            sink = self._p._text
            icon, style, _ = _STEP_ICONS[step.state]
            text = f"  {sink.paint(icon, style)} {step.name}"
            if step.state in ("done", "failed"):
                text += f" ({_fmt_seconds(step.seconds or 0.0)})"
            if step.error:
                text += f": {step.error}"
            sink.line(text)
        elif fe == "notebook":
            self._p._nb.replace(self._handle, self._html())

    def _html(self) -> str:
        rows = []
        for s in self.steps.values():
            icon, _, colour = _STEP_ICONS[s.state]
            secs = _fmt_seconds(s.seconds) if s.seconds is not None else ""
            rows.append(
                f'<tr><td style="color:{colour};font-weight:bold">{html.escape(icon)}</td>'
                f"<td>{html.escape(s.name)}</td><td>{html.escape(s.state)}</td>"
                f"<td>{secs}</td><td>{html.escape(s.error or '')}</td></tr>")
        return (f'<div class="geuse-steps" style="{_NB_STYLE}"><b>{html.escape(self.title)}'
                f"</b> <span>{html.escape(self.summary())}</span>"
                f'<table style="border-collapse:collapse">{"".join(rows)}</table></div>')

    def summary(self) -> str:
        """``3/4 done, 1 failed in 2.1s``."""
        counts = {k: 0 for k in _STEP_ICONS}
        for s in self.steps.values():
            counts[s.state] += 1
        parts = [f"{counts['done']}/{len(self.steps)} done"]
        parts += [f"{counts[k]} {k}" for k in ("failed", "running", "pending") if counts[k]]
        return ", ".join(parts) + f" in {_fmt_seconds(time.monotonic() - self._start)}"

    def frame(self) -> pd.DataFrame:
        """One row per step: name, state, seconds, error."""
        import pandas as pd

        return pd.DataFrame([{"name": s.name, "state": s.state, "seconds": s.seconds,
                              "error": s.error} for s in self.steps.values()],
                            columns=["name", "state", "seconds", "error"])

    def close(self, exc: BaseException | None = None) -> None:
        """Finish: running steps fail when ``exc`` is given (which is then shown with its
        suggestion); writes the final summary once."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            for s in self.steps.values():
                if s.state == "running" and exc is not None:
                    s.state, s.ended = "failed", time.monotonic()
                    s.error = f"{type(exc).__name__}: {exc}"
            failed = any(s.state == "failed" for s in self.steps.values())
            fe = self._p.frontend
            if fe in ("tty", "plain"):
                sink = self._p._text
                icon, style = ("✗", "red") if failed else ("✓", "green")
                sink.line(f"{sink.paint(icon, style)} {self.title}: {self.summary()}")
            elif fe == "notebook":
                self._p._nb.replace(self._handle, self._html())
        if isinstance(exc, Exception):
            self._p.error(exc)  # the failure, with its suggestion

    def __enter__(self) -> StepTracker:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.close(exc)


# ---------------------------------------------------------------- board
BOARD_STYLES = ("ok", "bad", "warn", "busy", "dim")
DEFAULT_BOARD_STYLES: dict[str, str] = {
    "done": "ok", "ok": "ok", "no_changes": "ok", "failed": "bad", "timed_out": "bad",
    "skipped": "dim", "cancelled": "dim", "rolled_back": "warn", "running": "busy",
    "in_progress": "busy"}
# style -> (icon, ANSI style, HTML colour)
_BOARD_LOOK = {"ok": ("✓", "green", "#2e7d32"), "bad": ("✗", "red", "#c62828"),
               "warn": ("!", "yellow", "#ef6c00"), "busy": ("▶", "yellow", "#1565c0"),
               "dim": ("○", "dim", "#9e9e9e")}


@dataclasses.dataclass
class BoardRow:
    """One row of a :class:`Board`: a name with its state, note and clock."""

    name: str
    state: str
    note: str = ""
    started: float | None = None  # time.time() when the row's clock started
    ended: float | None = None
    _t0: float | None = None  # monotonic twins, for durations immune to clock changes
    _t1: float | None = None

    @property
    def seconds(self) -> float | None:
        if self._t0 is None:
            return None
        return (self._t1 if self._t1 is not None else time.monotonic()) - self._t0


class Board:
    """A live table, one row per name (e.g. a region): state, note and elapsed time.

    ``set`` changes a row's state and note, ``start`` also starts its clock, ``finish`` stops
    it. States are any strings (callers pass their own StrEnum); ``styles`` maps a state to
    one of ``ok bad warn busy dim`` (see :data:`DEFAULT_BOARD_STYLES`; others are dim).
    Thread-safe: rows may be updated from worker threads. ``close()`` is idempotent and
    leaves the final record (a static HTML table in a notebook).
    """

    def __init__(self, progress: Progress, title: str, names: Iterable[str], *,
                 initial: str = "queued", styles: Mapping[str, str] | None = None) -> None:
        if isinstance(names, str):
            raise UsageError(f"board({title!r}, names) got the string {names!r}",
                             suggestion="pass a list of names, e.g. ['us-east-1']")
        names = [str(n) for n in names]
        if not names:
            raise UsageError(f"board({title!r}, names) got no names",
                             suggestion="pass the row names, e.g. the regions")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise UsageError(f"board({title!r}) has duplicate names: {dupes}",
                             suggestion="give every row a unique name")
        bad = {k: v for k, v in (styles or {}).items() if v not in BOARD_STYLES}
        if bad:
            key, value = next(iter(bad.items()))
            raise UsageError(f"board style {value!r} for state {key!r} is not known"
                             + did_you_mean(str(value), BOARD_STYLES),
                             suggestion="use one of " + ", ".join(BOARD_STYLES))
        self._p = progress
        self.title = title
        self.styles = {**DEFAULT_BOARD_STYLES, **{str(k): v for k, v in (styles or {}).items()}}
        self.rows: dict[str, BoardRow] = {n: BoardRow(n, str(initial)) for n in names}
        self._lock = threading.RLock()
        self._start = time.monotonic()
        self._handle: Any = None
        self._drawn_lines = 0
        self.closed = False
        fe = progress.frontend
        with self._lock:
            if fe in ("tty", "plain"):
                sink = progress._text
                sink.line(sink.paint(f"{title} ({len(names)} rows)", "bold"))
                if fe == "tty":
                    self._redraw()
            elif fe == "notebook":
                self._handle = progress._nb.show(self._html())

    # ------------------------------------------------ updates
    def _get(self, name: str) -> BoardRow:
        try:
            return self.rows[str(name)]
        except KeyError:
            raise UsageError(f"board {self.title!r} has no row {name!r}"
                             + did_you_mean(str(name), self.rows),
                             suggestion="use one of the names given to board(title, names)"
                             ) from None

    def set(self, name: str, state: str, note: str = "") -> None:
        """Set ``name``'s state and note (its clock is left as it is)."""
        self._change(name, state, note, None)

    def start(self, name: str, state: str = "running", note: str = "") -> None:
        """Set ``name``'s state and note and start its clock."""
        self._change(name, state, note, "start")

    def finish(self, name: str, state: str, note: str = "") -> None:
        """Set ``name``'s final state and note and stop its clock."""
        self._change(name, state, note, "finish")

    def _change(self, name: str, state: str, note: str, clock: str | None) -> None:
        with self._lock:
            row = self._get(name)
            before = (row.state, row.note)
            row.state, row.note = str(state), str(note)
            if clock == "start":
                row.started, row._t0, row.ended, row._t1 = (
                    time.time(), time.monotonic(), None, None)
            elif clock == "finish" and row._t0 is not None and row._t1 is None:
                row.ended, row._t1 = time.time(), time.monotonic()
            if self.closed:
                return
            if (row.state, row.note) != before or clock is not None:
                self._render(row)

    # ------------------------------------------------ reading
    def style(self, state: str) -> str:
        """The style (``ok bad warn busy dim``) of ``state``."""
        return self.styles.get(str(state), "dim")

    def summary(self) -> str:
        """``2 done, 1 failed, 3 queued in 12.0s`` (states in order of first appearance)."""
        counts: dict[str, int] = {}
        for row in self.rows.values():
            counts[row.state] = counts.get(row.state, 0) + 1
        parts = ", ".join(f"{n} {state}" for state, n in counts.items())
        return f"{parts} in {_fmt_seconds(time.monotonic() - self._start)}"

    def frame(self) -> pd.DataFrame:
        """One row per name: name, state, note, started, ended (UTC), seconds."""
        import pandas as pd

        with self._lock:
            records = [{"name": r.name, "state": r.state, "note": r.note,
                        "started": r.started, "ended": r.ended, "seconds": r.seconds}
                       for r in self.rows.values()]
        df = pd.DataFrame(records, columns=["name", "state", "note", "started", "ended",
                                            "seconds"])
        for col in ("started", "ended"):
            df[col] = pd.to_datetime(df[col], unit="s", utc=True)
        df["seconds"] = df["seconds"].astype(float)
        return df

    # ------------------------------------------------ drawing
    def _row_text(self, row: BoardRow, sink: _TextSink) -> str:
        icon, ansi, _ = _BOARD_LOOK[self.style(row.state)]
        secs = row.seconds
        text = f"{sink.paint(icon, ansi)} {row.name} {row.state}"
        if secs is not None:
            text += f" ({_fmt_seconds(secs)})"
        if row.note:
            text += f": {row.note}"
        return text

    def _redraw(self) -> None:
        """Terminal: rewrite the whole table in place (cursor up over the last drawing)."""
        sink = self._p._text
        width = max(len(n) for n in self.rows)
        out = [f"\x1b[{self._drawn_lines}F"] if self._drawn_lines else []
        for row in self.rows.values():
            icon, ansi, _ = _BOARD_LOOK[self.style(row.state)]
            secs = _fmt_seconds(row.seconds) if row.seconds is not None else ""
            note = f"  {row.note}" if row.note else ""
            out.append(f"\x1b[2K  {sink.paint(icon, ansi)} {row.name:<{width}} "
                       f"{row.state:<12} {sink.paint(f'{secs:>7}', 'dim')}{note}\n")
        sink.raw("".join(out))
        self._drawn_lines = len(self.rows)

    def _render(self, row: BoardRow) -> None:
        fe = self._p.frontend
        if fe == "plain":
            sink = self._p._text
            sink.line(f"{self.title}: {self._row_text(row, sink)}")
        elif fe == "tty":
            self._redraw()
        elif fe == "notebook":
            self._p._nb.replace(self._handle, self._html())

    def _html(self) -> str:
        rows = []
        for r in self.rows.values():
            icon, _, colour = _BOARD_LOOK[self.style(r.state)]
            secs = _fmt_seconds(r.seconds) if r.seconds is not None else ""
            rows.append(
                f'<tr><td style="color:{colour};font-weight:bold">{html.escape(icon)}</td>'
                f"<td>{html.escape(r.name)}</td>"
                f'<td style="color:{colour}">{html.escape(r.state)}</td>'
                f'<td style="text-align:right">{secs}</td>'
                f"<td>{html.escape(r.note)}</td></tr>")
        head = "".join(f'<th style="text-align:left">{h}</th>'
                       for h in ("", "name", "state", "time", "note"))
        return (f'<div class="geuse-board" style="{_NB_STYLE}"><b>{html.escape(self.title)}'
                f"</b> <span>{html.escape(self.summary())}</span>"
                f'<table style="border-collapse:collapse"><tr>{head}</tr>{"".join(rows)}'
                f"</table></div>")

    def close(self) -> None:
        """Draw the final record once (idempotent)."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            fe = self._p.frontend
            if fe in ("tty", "plain"):
                if fe == "tty":
                    self._redraw()
                sink = self._p._text
                sink.line(f"{sink.paint(self.title, 'bold')}: {self.summary()}")
            elif fe == "notebook":
                self._p._nb.replace(self._handle, self._html())

    def __enter__(self) -> Board:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- errors
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


# ---------------------------------------------------------------- Progress
class Progress:
    """The kit's progress front end: ``bar``, ``spinner``, ``steps``, ``status``, ``error``.

    ``frontend`` overrides the automatic choice; ``file`` is the text stream (default
    stderr); ``display`` replaces ``IPython.display.display`` (embedding, tests);
    ``kernel`` is the in-a-notebook predicate.
    """

    def __init__(self, settings: Settings, *, frontend: str | None = None,
                 file: IO[str] | None = None, display: Callable[..., Any] | None = None,
                 kernel: Callable[[], bool] = in_notebook_kernel) -> None:
        self.settings = settings
        self.frontend = choose_frontend(settings, file, frontend=frontend, kernel=kernel)
        self.colour = self.frontend == "tty" and not (
            settings.progress_no_color or os.environ.get("NO_COLOR"))
        self._text = _TextSink(file, colour=self.colour, timestamps=self.frontend == "plain")
        self._nb = _NotebookSink(display)

    def bar(self, iterable: Iterable[Any] | None = None, desc: str | None = None,
            total: float | None = None, **kw: Any) -> Any:
        """A progress bar (tqdm-like: iterate it, or ``update(n)`` it inside ``with``)."""
        fe = self.frontend
        if fe == "quiet":
            return _NullBar(iterable, desc, total)
        if fe == "plain":
            return _PlainBar(self._text, iterable, desc, total,
                             min_gap=float(kw.get("mininterval", 1.0)))
        cls = _tqdm_class(fe)
        if fe == "tty":
            kw.setdefault("file", self._text.file)
            if self.colour:
                kw.setdefault("colour", "green")
            kw.setdefault("dynamic_ncols", True)
        else:
            kw["geuse_sink"] = self._nb
        return cls(iterable, desc=desc, total=total, **kw)

    def status(self, desc: str | None, total: int) -> JobStatus:
        """The live job-status line (see :class:`JobStatus`)."""
        return JobStatus(self.bar(None, desc=desc, total=total), total)

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
        fe = self.frontend
        if fe in ("tty", "plain"):
            sink = self._text
            sink.line(f"{sink.paint('✗ ' + info['title'], 'red')}: {info['message']}")
            if info["suggestion"]:
                sink.line(f"  → {info['suggestion']}", "yellow")
            if info["detail"]:
                for line in info["detail"].rstrip().splitlines():
                    sink.line("  " + line, "dim")
        elif fe == "notebook":
            parts = [f'<div class="geuse-error" style="{_NB_STYLE}border-left:3px solid '
                     f'#c62828;padding-left:6px"><b style="color:#c62828">✗ '
                     f"{html.escape(info['title'])}</b>: {html.escape(info['message'])}"]
            if info["suggestion"]:
                parts.append(f"<div>→ {html.escape(info['suggestion'])}</div>")
            if info["detail"]:
                parts.append(f"<pre>{html.escape(info['detail'])}</pre>")
            self._nb.show("".join(parts) + "</div>")
        return info


# ---------------------------------------------------------------- module shortcuts
def _default() -> Progress:
    from ..config import resolve_settings

    return Progress(resolve_settings())


def bar(iterable: Iterable[Any] | None = None, desc: str | None = None,
        total: float | None = None, **kw: Any) -> Any:
    """``Progress(current settings).bar(...)`` (tqdm.auto-like)."""
    return _default().bar(iterable, desc=desc, total=total, **kw)


def spinner(msg: str) -> Spinner:
    """``Progress(current settings).spinner(msg)``."""
    return _default().spinner(msg)


def steps(title: str, names: Iterable[str]) -> StepTracker:
    """``Progress(current settings).steps(title, names)``."""
    return _default().steps(title, names)


def status(desc: str | None, total: int) -> JobStatus:
    """``Progress(current settings).status(desc, total)``."""
    return _default().status(desc, total)


def error(exc: BaseException) -> dict[str, str]:
    """``Progress(current settings).error(exc)``."""
    return _default().error(exc)
