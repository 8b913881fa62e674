"""Pages of one AWS answer: botocore's continuation rule, and merging pages into one.

``calls.CallPath`` sends a pageable read as a direct call first and hands the rest to
botocore's paginator only when the page carries a token (its own rule and encoding,
``next_token``); ``merge_pages`` concatenates the result lists, drops the tokens and
keeps the last page's ResponseMetadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def names(value: str | list[str] | None) -> list[str]:
    return [] if not value else [value] if isinstance(value, str) else list(value)


def next_token(page: Mapping[str, Any], op: Any) -> str | None:
    """The paginator's starting token for the page after ``page``, or None when it is the
    last one: botocore's own rule (``PageIterator._get_next_token``: ``more_results``
    false, or every output token empty) and its own token encoding. ``op`` is the call's
    ``calls._Operation`` (its compiled output tokens and more-results test)."""
    if op.more_results is not None and not op.more_results.search(page):
        return None
    tokens = {name: expr.search(page) or None for name, expr in op.output_token}
    if all(t is None for t in tokens.values()):
        return None
    from botocore.paginate import TokenEncoder

    return str(TokenEncoder().encode(tokens))


def chain(first: dict[str, Any], rest: Any) -> Any:
    yield first
    yield from rest


def merge_pages(pages: Any, result_keys: list[Any], drop: frozenset[str]) -> dict[str, Any]:
    """All pages in one response: result lists concatenated, pagination tokens (``drop``)
    dropped, the last page's ResponseMetadata kept."""
    merged: dict[str, Any] = {}
    first = True
    for page in pages:
        if first:
            first = False
            merged = {k: v for k, v in page.items() if k not in drop}
            continue
        for expr in result_keys:
            value = expr.search(page)
            if value is None:
                continue
            have = expr.search(merged)
            if isinstance(have, list) and isinstance(value, list):
                have.extend(value)
            elif isinstance(have, (int, float, str)) and type(have) is type(value):
                total: Any = have  # int + int, float + float or str + str: same type
                _set_path(merged, expr.expression, total + value)
            else:
                _set_path(merged, expr.expression, value)
        if "ResponseMetadata" in page:
            merged["ResponseMetadata"] = page["ResponseMetadata"]
    return merged


def _set_path(target: dict[str, Any], expression: str, value: Any) -> None:
    from botocore.utils import set_value_from_jmespath

    set_value_from_jmespath(target, expression, value)
