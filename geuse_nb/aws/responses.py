"""AWS responses in their cheapest form to keep and to reload.

botocore builds every string of a response as its own object and gives timestamps
dateutil time zones, which pickle by reference and are rebuilt by a Python call on
every load. A 19 KB DescribeSpotPriceHistory body unpickled in 340 µs as parsed,
63 µs compacted (and 3.3 KB instead of 11.7 KB): the disk tier's hit is mostly that.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from typing import Any

_UTC = _dt.UTC
_SHARE_UP_TO = 64  # characters: names, ids, zones, prices; not documents


def compact(value: Any) -> Any:
    """Share repeated short strings and timestamps, and put aware timestamps in stdlib UTC
    (the same instants). Changes dicts and lists in place and returns ``value``."""
    return _compact(value, {})


def _compact(value: Any, seen: dict[Any, Any]) -> Any:
    kind = type(value)
    if kind is dict:
        return _walk(value, value.items(), seen)
    if kind is list:
        return _walk(value, enumerate(value), seen)
    return _leaf(value, seen)


def _walk(container: Any, pairs: Iterable[tuple[Any, Any]], seen: dict[Any, Any]) -> Any:
    """One walk, the leaves handled in their container's loop: a call per leaf was most
    of the cost (a 17-subnet DescribeSubnets answer: 22.5 → 12.3 µs of CPU)."""
    for key, item in pairs:
        kind = type(item)
        if kind is str:
            if len(item) <= _SHARE_UP_TO:
                container[key] = seen.setdefault(item, item)
        elif kind is dict or kind is list:
            _compact(item, seen)
        elif kind is not int and kind is not bool and kind is not float:
            container[key] = _leaf(item, seen)
    return container


def _leaf(value: Any, seen: dict[Any, Any]) -> Any:
    """Anything but an exact dict, list, str or number: subclasses and timestamps."""
    if isinstance(value, dict | list):  # a subclass: its items listed before the walk
        return _walk(value, list(value.items() if isinstance(value, dict) else
                                 enumerate(value)), seen)
    if isinstance(value, str):
        return seen.setdefault(value, value) if len(value) <= _SHARE_UP_TO else value
    if isinstance(value, _dt.datetime) and value.tzinfo is not None:
        if value.tzinfo is not _UTC:
            value = value.astimezone(_UTC)
        return seen.setdefault(value, value)
    return value
