"""What a pickle stands for in this process: each unpickled part is built once.

A task sent to a joblib process or a Dask worker carries the kit (or its pool or
cache) as a description: settings and backend, never clients or credentials.
Unpickling a thousand tasks must not build a thousand clients, so every
description resolves to one instance per process, kept here.

The package's module-level state, all of it: this registry; the default Kit
(``kit._default``); what ``configure()`` set (``config._configured``, plus the
stderr handler the ``debug`` setting adds to the ``geuse_nb`` logger); and the
engine's per-thread "inside a job" flag (nested maps get their own pool).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_instances: dict[tuple[int, str, str], Any] = {}
_built: dict[tuple[int, str], int] = {}
_lock = threading.RLock()  # re-entrant: building a Kit builds its pool


def instance(kind: str, description: str, build: Callable[[], T]) -> T:
    """The one ``kind`` object for ``description`` in this process, built on first use."""
    key = (os.getpid(), kind, description)
    with _lock:
        found = _live(_instances.get(key))
        if found is None:
            found = _instances[key] = build()
            count_key = (os.getpid(), kind)
            _built[count_key] = _built.get(count_key, 0) + 1
        return found


def adopt(kind: str, description: str, obj: Any) -> None:
    """Make ``obj`` what ``description`` stands for in this process (unless a live one is):
    a Kit pickled and unpickled where it was made comes back as itself."""
    key = (os.getpid(), kind, description)
    with _lock:
        if _live(_instances.get(key)) is None:
            # weakly: a kit the user made and dropped must not be kept alive by this registry
            _instances[key] = weakref.ref(obj)


def _live(entry: Any) -> Any:
    """The registered object if it is still there and not closed, else None."""
    found = entry() if isinstance(entry, weakref.ref) else entry
    return None if found is None or getattr(found, "closed", False) else found


def built(kind: str) -> int:
    """How many ``kind`` objects this process has built from pickles (for tests and benches)."""
    with _lock:
        return _built.get((os.getpid(), kind), 0)
