"""A fast, exact timestamp parser for botocore, installed on the kit's botocore session.

botocore parses every timestamp of every response with ``dateutil.parser.parse``: on an
860-row DescribeSpotPriceHistory page that was 42.5 ms of the client's CPU, most of the
call; ``datetime.fromisoformat`` parses the same page in 9.3 ms (``DEPENDENCY-FACTS.md``,
third round). botocore offers a public hook for it:
``session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=f)``
changes the parser of every client made from that session afterwards.

The values equal botocore's own parser's (``botocore.utils.parse_timestamp``) for every
form AWS sends, and are always timezone-aware in ``datetime.UTC``:

- ISO 8601 (``2026-01-02T03:04:05Z``, with fractions, ``Z`` or an offset, the basic
  form ``20260102T030405Z``, a date alone) through ``datetime.fromisoformat`` (Python
  3.11 reads them all); an offset is converted to UTC (the same instant); a value with no
  zone is taken as UTC, where botocore would return a naive datetime;
- epoch seconds, ints, floats or numeric strings, through
  ``datetime.fromtimestamp(value, UTC)``, as botocore does;
- anything else (RFC 822 ``Fri, 02 Jan 2026 03:04:05 GMT``, out-of-range epochs)
  through botocore's own parser, made aware in UTC the same way.

A hypothesis property test (``tests/test_timestamps.py``) holds these equal to
botocore's across generated values of every form.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

_UTC = _dt.UTC


def parse_timestamp(value: Any) -> _dt.datetime:
    """``value`` (ISO 8601, epoch seconds or RFC 822) as an aware UTC datetime."""
    if isinstance(value, str):
        if len(value) >= 8 and value[:4].isdigit() and not _numeric(value):
            try:
                parsed = _dt.datetime.fromisoformat(value)
            except ValueError:
                return _botocore(value)
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=_UTC)
            return parsed if parsed.tzinfo is _UTC else parsed.astimezone(_UTC)
        try:
            return _dt.datetime.fromtimestamp(float(value), _UTC)
        except (ValueError, OverflowError, OSError):
            return _botocore(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return _dt.datetime.fromtimestamp(value, _UTC)
        except (ValueError, OverflowError, OSError):
            return _botocore(value)
    return _botocore(value)


def _numeric(text: str) -> bool:
    """True for an epoch written as a string ("1767322800", "1767322800.5")."""
    head, _, tail = text.partition(".")
    return head.isdigit() and (not tail or tail.isdigit())


def _botocore(value: Any) -> _dt.datetime:
    from botocore.utils import parse_timestamp as botocore_parse

    parsed: _dt.datetime = botocore_parse(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=_UTC)
    return parsed.astimezone(_UTC)


def install_timestamp_parser(botocore_session: Any) -> None:
    """Make every client created from ``botocore_session`` afterwards parse timestamps
    with ``parse_timestamp`` (botocore's public parser-defaults hook)."""
    factory = botocore_session.get_component("response_parser_factory")
    factory.set_parser_defaults(timestamp_parser=parse_timestamp)
