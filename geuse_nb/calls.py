"""PLACEHOLDER (replaced by the call-path work)."""

from __future__ import annotations

from typing import Any


class CallPath:
    def __init__(self, pool: Any, cache: Any, recorder: Any) -> None:
        self.pool = pool

    def call(self, service: str, operation: str, region: str | None = None, **params: Any) -> Any:
        for key in ("ttl", "refresh", "kind"):
            params.pop(key, None)
        return getattr(self.pool.client(service, region), operation)(**params)
