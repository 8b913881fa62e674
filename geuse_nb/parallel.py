"""PLACEHOLDER (replaced by the parallel work): serial engine with the final API."""

from __future__ import annotations

from typing import Any


class JobResults(list):  # type: ignore[type-arg]
    pass


class Engine:
    def __init__(self, settings: Any, *, progress: Any, recorder: Any) -> None:
        self.settings = settings

    def pmap(self, fn: Any, items: Any, **kw: Any) -> JobResults:
        return JobResults(fn(item) for item in items)

    def jobs(self, spec: Any, **kw: Any) -> JobResults:
        raise NotImplementedError

    def close(self) -> None:
        return None
