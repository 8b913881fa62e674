"""Import every scenario module (each registers its scenarios), then order the registry by
the issue's numbering: 1, 1b, 2, … 13."""

from __future__ import annotations

import importlib
import re

from ._core import REGISTRY

MODULES = ("fanout", "ops", "cache_pool", "overhead", "cluster", "cpu", "accounts",
           "startup", "rank")


def _number(key: str) -> tuple[int, str]:
    found = re.fullmatch(r"(\d+)(\w*)", REGISTRY[key].number)
    return (int(found.group(1)), found.group(2)) if found else (99, key)


def load() -> list[str]:
    """The registered scenario keys, in the issue's order."""
    for module in MODULES:
        importlib.import_module(f"{__package__}.{module}")
    ordered = sorted(REGISTRY, key=_number)
    items = {key: REGISTRY[key] for key in ordered}
    REGISTRY.clear()
    REGISTRY.update(items)
    return ordered
