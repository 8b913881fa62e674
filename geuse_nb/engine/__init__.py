"""The parallel engine: ``Engine`` (``pmap``, ``jobs``), its backends and what runs return.

Names are imported lazily, so that importing ``geuse_nb.engine.results`` (plain data)
does not import joblib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._backends import EngineBackend, register_backend
    from ._policy import Backoff
    from ._run import Run
    from .parallel import Engine
    from .results import JobResults, Outcome

__all__ = ["Backoff", "Engine", "EngineBackend", "JobResults", "Outcome", "Run",
           "register_backend"]

_WHERE = {"Backoff": "._policy", "Engine": ".parallel", "EngineBackend": ".parallel",
          "register_backend": ".parallel", "Run": "._run", "JobResults": ".results",
          "Outcome": ".results"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
