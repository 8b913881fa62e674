"""geuse_nb: fast, visible, rerunnable AWS operations from a Jupyter notebook.

``import geuse_nb as gn; kit = gn.init("demo", backend="sandbox")`` — then
``kit.call``, ``kit.fanout``, ``kit.pmap``, ``kit.report()``. The module-level
functions below delegate to the default Kit. Importing is cheap: pandas, boto3,
moto and IPython load only when first used.
"""

from __future__ import annotations

import logging
from typing import Any

from .config import Settings, configure, reset_configuration, settings_context
from .errors import (
    AwsCallError,
    ConfigError,
    GeuseError,
    JobError,
    MissingDependencyError,
    SandboxError,
    UsageError,
)
from .kit import Kit, get_kit, init

__version__ = "0.1.0"

# A library logs; the application decides where it goes.
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "AwsCallError", "ConfigError", "GeuseError", "JobError", "Kit", "MissingDependencyError",
    "SandboxError", "Settings", "UsageError", "cached", "call", "client", "configure",
    "fanout", "get_kit", "init", "jobs", "pmap", "records", "report", "reset_configuration",
    "settings_context",
]


def client(service: str, region: str | None = None) -> Any:
    """``get_kit().client(...)``."""
    return get_kit().client(service, region)


def call(service: str, operation: str, region: str | None = None, **params: Any) -> Any:
    """``get_kit().call(...)``."""
    return get_kit().call(service, operation, region, **params)


def records(service: str, operation: str, region: str | None = None, **params: Any) -> Any:
    """``get_kit().records(...)``."""
    return get_kit().records(service, operation, region, **params)


def fanout(service: str, operation: str, regions: Any = None, **kwargs: Any) -> Any:
    """``get_kit().fanout(...)``."""
    return get_kit().fanout(service, operation, regions, **kwargs)


def pmap(fn: Any, items: Any, **kwargs: Any) -> Any:
    """``get_kit().pmap(...)``."""
    return get_kit().pmap(fn, items, **kwargs)


def jobs(spec: Any, **kwargs: Any) -> Any:
    """``get_kit().jobs(...)``."""
    return get_kit().jobs(spec, **kwargs)


def cached(fn: Any = None, **kwargs: Any) -> Any:
    """``get_kit().cached(...)``: memoise in the default Kit's cache."""
    return get_kit().cached(fn, **kwargs)


def report(title: str | None = None) -> Any:
    """``get_kit().report(...)``."""
    return get_kit().report(title)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext geuse_nb``: register the magics (IPython loads only here, not on import)."""
    from .face.magics import load

    load(ipython)
