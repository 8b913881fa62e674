"""Progress that looks right wherever it runs: notebook widgets, a colour terminal,
timestamped plain lines (CI, papermill logs, pipes) or nothing at all (quiet).

One function, :func:`choose_frontend`, decides the front end, like ``tqdm.autonotebook``:

- ``"quiet"``    when ``settings.progress_quiet``: nothing is written;
- ``"notebook"`` inside an IPython kernel with ipywidgets importable: widgets while
  running, replaced by a static HTML record of the final state when done, so a saved or
  exported notebook shows the result without widget JavaScript;
- ``"tty"``      when the output stream is a terminal: tqdm bars, ANSI colour unless
  ``settings.progress_no_color`` (``NO_COLOR`` sets it), tables redrawn in place;
- ``"plain"``    otherwise: timestamped lines, never control codes, and not chatty (a line at
  start, one per 10 % or per ``plain_interval`` seconds, and one at the end).

The choice becomes a class, once: each front end is a :class:`Renderer` subclass
(``_notebook``, ``_terminal``, ``_plain``, ``_quiet``) overriding seven hooks, as
``tqdm.notebook.tqdm`` overrides ``tqdm.std.tqdm``'s display. The views — bars, the
engine's :class:`MapStatus` line, :class:`Spinner`, :class:`StepTracker`, :class:`Board` —
keep their state and call the hooks; none of them asks which front end is live. Before
this split, a new front end meant editing nine functions (about twenty string tests);
now it is one subclass and ``register_frontend(name, cls)``, from outside the package.

``Progress(settings, frontend=..., file=...)`` accepts an override and a stream, for tests and
for embedding. Everything a bar opens is closed by the end of its ``with`` block or iteration.
"""

from ._base import LOOKS, Bar, FrontEnd, Look, Renderer, Style, describe_error, fmt_seconds
from ._board import DEFAULT_BOARD_STYLES, Board, BoardRow
from ._progress import Progress
from ._registry import (
    BUILTIN,
    choose_frontend,
    frontend_class,
    frontend_names,
    in_notebook_kernel,
    register_frontend,
    unregister_frontend,
)
from ._status import MapStatus, Spinner
from ._steps import StepTracker

__all__ = [
    "BUILTIN", "DEFAULT_BOARD_STYLES", "LOOKS", "Bar", "Board", "BoardRow", "FrontEnd", "Look",
    "MapStatus", "Progress", "Renderer", "Spinner", "StepTracker", "Style", "choose_frontend",
    "describe_error", "fmt_seconds", "frontend_class", "frontend_names", "in_notebook_kernel",
    "register_frontend", "unregister_frontend",
]
