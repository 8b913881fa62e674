"""Where a map's jobs run: the ``EngineBackend`` interface and the registry of backends.

As joblib does it (``ParallelBackendBase`` + ``register_parallel_backend``): a backend is
a class, registered under a name with ``register_backend(name, cls)``, and
``pmap(backend=name)`` picks it from the registry; nobody else branches on the name.
``"threads"`` (kept worker thread pools, the default) and ``"dask"`` (dask.distributed)
are registered by ``geuse_nb.engine.parallel``. An Engine makes one instance of each
backend it uses, on first use, and closes it in ``Engine.close()``: that instance may
keep resources between maps (the threads backend keeps its pools).

A backend's whole job is ``start(run, calls)``: start running ``calls`` (job ``i`` is
``calls[i]()``), return at once, and report through the ``Run`` (see ``_run.py`` for
what it offers). The calling thread does the rest: order, retries, timeouts, the
status line, cancellation, the jobs table.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import UsageError, did_you_mean

if TYPE_CHECKING:
    from ._run import Run

DEFAULT_BACKEND = "threads"


class EngineBackend(abc.ABC):
    """How a map's jobs get run. Subclass, implement ``start``, then ``register_backend``."""

    joblib_backend: ClassVar[str | None] = None
    """Class name of the joblib backend that, made active by an enclosing
    ``joblib.parallel_config(backend=...)``, selects this one when ``pmap`` names none."""

    def check(self) -> None:  # noqa: B027  # optional hook: nothing to check by default
        """Raise (e.g. ``MissingDependencyError``) if this backend cannot run here; called
        before any job starts."""

    @abc.abstractmethod
    def start(self, run: Run, calls: Sequence[Callable[[], Any]]) -> None:
        """Start running ``calls`` for ``run`` and return at once.

        In-process backends call ``run.runner(i, calls[i])`` in worker threads (the runner
        posts what happens and honours cancellation); out-of-process ones call
        ``run.remote_runner(i, calls[i])`` remotely and pass each returned ``Outcome`` to
        ``run.report``. Either way, call ``run.done(error=None)`` when the driver stops,
        with the exception if the backend itself broke.
        """

    def close(self) -> None:  # noqa: B027  # optional hook: nothing kept by default
        """Release what this backend keeps between maps (``Engine.close()`` calls it)."""


_REGISTRY: dict[str, type[EngineBackend]] = {}


def register_backend(name: str, cls: type[EngineBackend]) -> None:
    """Make ``cls`` available as ``pmap(backend=name)`` (replacing any backend of that name)."""
    if not isinstance(name, str) or not name.strip():
        raise UsageError(f"backend name {name!r} is not a non-empty string",
                         suggestion="register the backend under a short name")
    if not (isinstance(cls, type) and issubclass(cls, EngineBackend)):
        raise UsageError(f"{cls!r} is not an EngineBackend subclass",
                         suggestion="subclass geuse_nb.engine.EngineBackend and implement start()")
    _REGISTRY[name] = cls


def backend_names() -> list[str]:
    """Names of the registered backends, in registration order."""
    return list(_REGISTRY)


def backend_class(name: str) -> type[EngineBackend]:
    """The backend class registered as ``name``; a ``UsageError`` naming the choices if none."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise UsageError(
            f"backend={name!r} is not valid{did_you_mean(str(name), _REGISTRY)}",
            suggestion="use one of " + ", ".join(_REGISTRY) + ", or None (threads, or the "
                       "backend of an enclosing joblib.parallel_config); a new one needs "
                       "register_backend(name, cls)") from None


def context_backend() -> tuple[str | None, int | None]:
    """The registered backend and ``n_jobs`` set by an enclosing ``joblib.parallel_config``."""
    from joblib.parallel import get_active_backend

    backend, n_jobs = get_active_backend()  # prefer="threads" would force n_jobs=1
    active = type(backend).__name__
    for name, cls in _REGISTRY.items():
        if cls.joblib_backend == active:
            return name, n_jobs
    return None, n_jobs
