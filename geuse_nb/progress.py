"""PLACEHOLDER (replaced by the progress work): silent progress with the final API."""

from __future__ import annotations

import contextlib
from typing import Any


class _Null:
    def __init__(self, iterable: Any = None, **_: Any) -> None:
        self._it = iterable

    def __iter__(self) -> Any:
        return iter(self._it)

    def __enter__(self) -> _Null:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, *a: Any, **k: Any) -> None:
        return None

    def close(self, *a: Any, **k: Any) -> None:
        return None


class Progress:
    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.frontend = "quiet"

    def bar(self, iterable: Any = None, desc: str | None = None, total: int | None = None,
            **kw: Any) -> Any:
        return _Null(iterable)

    def status(self, desc: str | None, total: int) -> Any:
        return _Null()

    @contextlib.contextmanager
    def spinner(self, msg: str) -> Any:
        yield

    def steps(self, title: str, names: Any) -> Any:
        return _Null()
