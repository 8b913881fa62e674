"""PLACEHOLDER (replaced by the pool work): unpooled clients with the final API."""

from __future__ import annotations

from typing import Any


class ClientPool:
    def __init__(self, settings: Any, backend: Any, *, recorder: Any = None) -> None:
        self.settings = settings
        self.backend = backend

    def client(self, service: str, region: str | None = None) -> Any:
        import boto3

        region = region or self.backend.default_region
        kwargs = self.backend.session_kwargs()
        kwargs["region_name"] = region
        return boto3.Session(**kwargs).client(
            service, endpoint_url=self.backend.endpoint_url(region))

    def stats(self) -> Any:
        import pandas as pd

        return pd.DataFrame()

    def close(self) -> None:
        return None
