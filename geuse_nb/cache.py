"""PLACEHOLDER (replaced by the cache work): a cache that never hits, with the final API."""

from __future__ import annotations

import dataclasses
import json
from typing import Any


@dataclasses.dataclass(frozen=True)
class CacheLookup:
    hit: bool
    value: Any = None
    tier: str | None = None
    stale: bool = False


def make_key(*, scope: str, region: str | None, service: str, operation: str,
             params: dict[str, Any]) -> str:
    return json.dumps([scope, region, service, operation, params], sort_keys=True, default=str)


def kind_of(service: str, operation: str) -> str | None:
    return None


def is_read_operation(operation: str) -> bool:
    return operation.startswith(("describe_", "get_", "list_"))


class TieredCache:
    def __init__(self, settings: Any, *, recorder: Any = None) -> None:
        self.settings = settings

    def lookup(self, key: str, *, kind: str | None = None, allow_stale: float = 0.0) -> CacheLookup:
        return CacheLookup(hit=False)

    def store(self, key: str, value: Any, *, kind: str | None = None,
              ttl: float | None = None) -> None:
        return None

    def stats(self) -> Any:
        import pandas as pd

        return pd.DataFrame()

    def memoize(self, fn: Any = None, **kw: Any) -> Any:
        return fn

    def close(self) -> None:
        return None
