"""geuse_nb: fast, visible, rerunnable AWS operations from a Jupyter notebook.

``import geuse_nb as gn; kit = gn.init("demo", backend="sandbox")`` — then
``kit.call``, ``kit.fanout``, ``kit.pmap``, ``kit.report()``. The module-level
functions below delegate to the default Kit. Importing is cheap: pandas, boto3,
moto and IPython load only when first used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, overload

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

if TYPE_CHECKING:
    import pandas as pd

    from .aws.pool import ClientPool
    from .cache.memoize import Memoized
    from .cache.tiered import TieredCache
    from .engine.results import JobResults
    from .observe.metrics import Recorder
    from .observe.report import Report
    from .sandbox import Sandbox

__version__ = "0.1.0"

# A library logs; the application decides where it goes.
logging.getLogger(__name__).addHandler(logging.NullHandler())

# The public names, by group (each group sorted; `+=` keeps it readable by type checkers).
__all__ = ["Kit", "get_kit", "init"]  # the kit and the default kit
__all__ += [  # what the kit's methods return, for annotations (loaded on first use)
    "ClientPool", "JobResults", "Recorder", "Report", "Sandbox", "TieredCache"]
__all__ += [  # the same methods on the default kit
    "cached", "call", "client", "fanout", "jobs", "pmap", "records", "report"]
__all__ += ["Settings", "configure", "reset_configuration", "settings_context"]  # settings
__all__ += [  # errors
    "AwsCallError", "ConfigError", "GeuseError", "JobError", "MissingDependencyError",
    "SandboxError", "UsageError"]

# The returned types live in modules that import pandas, boto3 or joblib when used;
# ``gn.JobResults`` imports its module on first access only (PEP 562), so
# ``import geuse_nb`` stays light.
_LAZY_TYPES: dict[str, str] = {
    "ClientPool": "geuse_nb.aws.pool",
    "JobResults": "geuse_nb.engine.results",
    "Recorder": "geuse_nb.observe.metrics",
    "Report": "geuse_nb.observe.report",
    "Sandbox": "geuse_nb.sandbox",
    "TieredCache": "geuse_nb.cache.tiered",
}


def __getattr__(name: str) -> Any:
    module = _LAZY_TYPES.get(name)
    if module is None:
        raise AttributeError(f"module 'geuse_nb' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later accesses are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY_TYPES})


# ---------------------------------------------------------------- shortcuts on the default kit
def client(service: str, region: str | None = None, *, account: str | None = None,
           role_name: str | None = None, external_id: str | None = None) -> Any:
    """``get_kit().client(...)``: the pooled boto3 client (boto3 clients are untyped)."""
    return get_kit().client(service, region, account=account, role_name=role_name,
                            external_id=external_id)


@overload
def call(service: str, operation: str, region: str | None = None, *,
         ttl: float | None = None, refresh: bool = False, kind: str | None = None,
         account: str | None = None, role_name: str | None = None,
         external_id: str | None = None, frame: Literal[False] = False,
         expect: Iterable[str] = (), **params: Any) -> dict[str, Any]: ...


@overload
def call(service: str, operation: str, region: str | None = None, *,
         ttl: float | None = None, refresh: bool = False, kind: str | None = None,
         account: str | None = None, role_name: str | None = None,
         external_id: str | None = None, frame: Literal[True],
         expect: Iterable[str] = (), **params: Any) -> pd.DataFrame: ...


def call(service: str, operation: str, region: str | None = None, *,
         ttl: float | None = None, refresh: bool = False, kind: str | None = None,
         account: str | None = None, role_name: str | None = None,
         external_id: str | None = None, frame: bool = False,
         expect: Iterable[str] = (), **params: Any) -> dict[str, Any] | pd.DataFrame:
    """``get_kit().call(...)``."""
    kit = get_kit()
    options: dict[str, Any] = {"ttl": ttl, "refresh": refresh, "kind": kind,
                               "account": account, "role_name": role_name,
                               "external_id": external_id, "expect": expect}
    if frame:
        return kit.call(service, operation, region, frame=True, **options, **params)
    return kit.call(service, operation, region, **options, **params)


def records(service: str, operation: str, region: str | None = None,
            **params: Any) -> pd.DataFrame:
    """``get_kit().records(...)``."""
    return get_kit().records(service, operation, region, **params)


def fanout(service: str, operation: str, regions: str | Iterable[str] | None = None, *,
           param_sets: Iterable[Mapping[str, Any]] | None = None, desc: str | None = None,
           n_jobs: int | None = None, accounts: Iterable[str] | str | None = None,
           role_name: str | None = None, external_id: str | None = None,
           backend: str | None = None, **params: Any) -> pd.DataFrame:
    """``get_kit().fanout(...)``; ``account=`` reaches ``call``/``records`` through
    ``**params`` the same way."""
    return get_kit().fanout(service, operation, regions, param_sets=param_sets, desc=desc,
                            n_jobs=n_jobs, accounts=accounts, role_name=role_name,
                            external_id=external_id, backend=backend, **params)


def pmap(fn: Callable[[Any], Any], items: Iterable[Any], *, desc: str | None = None,
         n_jobs: int | None = None, retries: int | None = None, timeout: float | None = None,
         backend: str | None = None) -> JobResults:
    """``get_kit().pmap(...)``."""
    return get_kit().pmap(fn, items, desc=desc, n_jobs=n_jobs, retries=retries,
                          timeout=timeout, backend=backend)


def jobs(spec: Mapping[str, Any], *, desc: str | None = None, n_jobs: int | None = None,
         retries: int | None = None, timeout: float | None = None) -> JobResults:
    """``get_kit().jobs(...)``."""
    return get_kit().jobs(spec, desc=desc, n_jobs=n_jobs, retries=retries, timeout=timeout)


@overload
def cached(fn: Callable[..., Any], *, ttl: float | None = None, kind: str | None = None,
           ignore: Iterable[str] = ()) -> Memoized: ...


@overload
def cached(fn: None = None, *, ttl: float | None = None, kind: str | None = None,
           ignore: Iterable[str] = ()) -> Callable[[Callable[..., Any]], Memoized]: ...


def cached(fn: Callable[..., Any] | None = None, *, ttl: float | None = None,
           kind: str | None = None,
           ignore: Iterable[str] = ()) -> Memoized | Callable[[Callable[..., Any]], Memoized]:
    """``get_kit().cached(...)``: memoise in the default Kit's cache (with or without ``()``)."""
    kit = get_kit()
    if fn is None:
        return kit.cached(ttl=ttl, kind=kind, ignore=ignore)
    return kit.cached(fn, ttl=ttl, kind=kind, ignore=ignore)


def report(title: str | None = None) -> Report:
    """``get_kit().report(...)``."""
    return get_kit().report(title)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext geuse_nb``: register the magics (IPython loads only here, not on import)."""
    from .face.magics import load

    load(ipython)
