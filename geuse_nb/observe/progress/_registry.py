"""Which front end draws: the table of front ends, the registry, and the one choice.

The built-in front ends are one table (:data:`BUILTIN`, keyed by :class:`FrontEnd`);
``register_frontend(name, cls)`` adds another (a :class:`Renderer` subclass) from
anywhere, as joblib's ``register_parallel_backend`` does, after which
``Progress(settings, frontend=name)`` draws with it. :func:`choose_frontend` is the only
code that looks at which front end is wanted; everything after it calls the chosen
class's hooks.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

from ...errors import UsageError, did_you_mean
from ._base import FrontEnd, Renderer
from ._notebook import NotebookRenderer
from ._plain import PlainRenderer
from ._quiet import QuietRenderer
from ._terminal import TerminalRenderer

if TYPE_CHECKING:
    from ...config import Settings

BUILTIN: dict[FrontEnd, type[Renderer]] = {
    FrontEnd.NOTEBOOK: NotebookRenderer,
    FrontEnd.TERMINAL: TerminalRenderer,
    FrontEnd.PLAIN: PlainRenderer,
    FrontEnd.QUIET: QuietRenderer,
}
if set(BUILTIN) != set(FrontEnd):  # the enum and the table must agree
    raise RuntimeError(f"front ends without a renderer: {set(FrontEnd) - set(BUILTIN)}")

_registry: dict[str, type[Renderer]] = {str(name): cls for name, cls in BUILTIN.items()}


def register_frontend(name: str, cls: type[Renderer]) -> None:
    """Make ``cls`` (a :class:`Renderer` subclass) the front end called ``name``.

    A built-in name cannot be taken (a new front end gets a new name); registering a
    name again replaces its class.
    """
    if not isinstance(name, str) or not name.strip():
        raise UsageError(f"a front end's name must be a non-empty string, not {name!r}",
                         suggestion="register_frontend('mine', MyRenderer)")
    if name in set(FrontEnd):
        raise UsageError(f"{name!r} is a built-in front end",
                         suggestion="register yours under a new name")
    if not (isinstance(cls, type) and issubclass(cls, Renderer)):
        raise UsageError(f"front end {name!r} must be a Renderer subclass, not {cls!r}",
                         suggestion="subclass geuse_nb.observe.progress.Renderer and "
                         "override its hooks")
    _registry[name] = cls


def unregister_frontend(name: str) -> None:
    """Forget a front end registered with :func:`register_frontend`."""
    if name in set(FrontEnd):
        raise UsageError(f"{name!r} is a built-in front end and stays",
                         suggestion="unregister only names you registered")
    _registry.pop(name, None)


def frontend_names() -> list[str]:
    """The names ``Progress(frontend=...)`` accepts: the built-ins, then registered ones."""
    return list(_registry)


def frontend_class(name: str) -> type[Renderer]:
    """The renderer class of front end ``name``."""
    try:
        return _registry[name]
    except KeyError:
        raise UsageError(f"progress frontend {name!r} is not known"
                         + did_you_mean(str(name), _registry),
                         suggestion="use one of " + ", ".join(_registry)
                         + " (or None: automatic), or register_frontend() yours") from None


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
    return importlib.util.find_spec("ipywidgets") is not None


def choose_frontend(
    settings: Settings,
    file: IO[str] | None = None,
    *,
    frontend: str | None = None,
    kernel: Callable[[], bool] = in_notebook_kernel,
) -> str:
    """The one place that decides the front end (see the package docstring for the rules).

    ``frontend`` overrides the choice (except that quiet settings always win);
    ``kernel`` is the "are we in a notebook kernel" predicate, injectable for tests.
    An explicit ``file`` means text output, so the kernel is not consulted then.
    Returns a :class:`FrontEnd` for the built-ins, else the registered name.
    """
    if frontend is not None:
        frontend_class(frontend)  # unknown names fail here, even when quiet wins
    if settings.progress_quiet:
        return FrontEnd.QUIET
    if frontend is not None:
        return FrontEnd(frontend) if frontend in set(FrontEnd) else frontend
    if file is None and kernel():
        return FrontEnd.NOTEBOOK
    stream = file if file is not None else sys.stderr
    try:
        interactive = bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or not a real stream
        interactive = False
    return FrontEnd.TERMINAL if interactive else FrontEnd.PLAIN
