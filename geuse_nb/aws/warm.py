"""``kit.warm(calls)``: run a list of AWS reads in parallel so that later ones hit the cache.

Warming is a call runner, not a cache operation: it sends calls through the call path
(which looks up, calls and stores) on the engine's parallel map, and reports one row per
call. It used to live on the cache, which then needed the call path injected back into
it (``cache.attach(fetch=..., pmap=...)``); here it takes both as arguments and the
cache knows nothing of AWS.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ..cache.keys import make_key
from ..errors import UsageError
from .fanout import in_flight

if TYPE_CHECKING:
    import pandas as pd

    from .calls import CallPath

COLUMNS = ["service", "operation", "region", "params", "ok", "cached_before", "seconds",
           "error"]

_HINT = ('use {"service": "ec2", "operation": "describe_regions", "region": "us-east-1", '
         '"params": {}} or a tuple (service, operation, region, params)')
_FIELDS = frozenset({"service", "operation", "region", "params"})


class _Mapper(Protocol):
    """What warm needs of the engine: its parallel map."""

    def pmap(self, fn: Callable[[Any], Any], items: Iterable[Any], *,
             desc: str | None = ..., n_jobs: int | None = ...,
             in_flight: int | None = ...) -> Sequence[Any]: ...


def call_spec(item: Any, index: int = 0) -> dict[str, Any]:
    """One call as ``{"service", "operation", "region", "params"}``, from that dict or a
    tuple ``(service, operation[, region[, params]])``; anything else is a ``UsageError``."""
    if isinstance(item, Mapping):
        if set(item) - _FIELDS or "service" not in item or "operation" not in item:
            raise UsageError(f"warm: call #{index} {item!r} is not a call spec",
                             suggestion=_HINT)
        service, operation = item["service"], item["operation"]
        region, params = item.get("region"), item.get("params") or {}
    elif isinstance(item, list | tuple) and 2 <= len(item) <= 4:
        service, operation, region, params = (*item, None, None)[:4]
        params = params or {}
    else:
        raise UsageError(f"warm: call #{index} {item!r} is not a call spec", suggestion=_HINT)
    if not isinstance(service, str) or not isinstance(operation, str) \
            or not isinstance(params, Mapping) or not (region is None or isinstance(region, str)):
        raise UsageError(f"warm: call #{index} {item!r} has a bad service, operation, "
                         "region or params", suggestion=_HINT)
    return {"service": service, "operation": operation, "region": region,
            "params": dict(params)}


def warm(calls: Iterable[Any], *, call_path: CallPath, engine: _Mapper,
         n_jobs: int | None = None) -> pd.DataFrame:
    """Fill the cache by running ``calls`` (call specs) through ``call_path`` on
    ``engine.pmap`` → one row per call: service, operation, region, params, ok,
    cached_before (None when the region is left to the default), seconds, error.
    Failures are rows with ``ok=False`` and the error, never an exception."""
    import pandas as pd

    if isinstance(calls, str | bytes | Mapping) or not isinstance(calls, Iterable):
        raise UsageError(f"warm() takes a list of calls, not a {type(calls).__name__} "
                         f"({calls!r:.60})", suggestion="pass a list of calls: " + _HINT)
    specs = [call_spec(item, i) for i, item in enumerate(calls)]
    scope = call_path.pool.scope()
    before: list[bool | None] = [
        None if spec["region"] is None else make_key(
            scope=scope, region=spec["region"], service=spec["service"],
            operation=spec["operation"], params=spec["params"]) in call_path.cache
        for spec in specs]

    def one(spec: dict[str, Any]) -> tuple[bool, float, str | None]:
        started = time.perf_counter()
        try:
            call_path.call(spec["service"], spec["operation"], spec["region"],
                           **spec["params"])
        except Exception as exc:  # a warm run reports failures, it does not stop
            return False, time.perf_counter() - started, f"{type(exc).__name__}: {exc}"
        return True, time.perf_counter() - started, None

    recorder = call_path.recorder
    timer = (recorder.timer("cache.warm", "cache") if recorder is not None
             else contextlib.nullcontext())
    with timer:
        sized = in_flight(((s["service"], s["region"]) for s in specs), call_path.settings)
        results = list(engine.pmap(one, specs, desc="cache warm", n_jobs=n_jobs,
                                   in_flight=sized)) if specs else []
    rows = []
    for spec, was, result in zip(specs, before, results, strict=True):
        ok, seconds, error = result if result is not None else (
            False, float("nan"), "job did not finish")
        rows.append({**spec, "ok": ok, "cached_before": was, "seconds": seconds,
                     "error": error})
    return pd.DataFrame(rows, columns=COLUMNS)
