"""The one cache key builder (which operations are cached, and for how long: ``geuse_nb.kinds``).

Every cached path (``kit.call``, ``kit.cached``, ``kit.warm``) builds its keys here, so
one entry is never split into two by two normalisers (diskcache's ``args_to_key`` idea).
A key is ``service.operation@region:<sha256 of canonical JSON>``: readable enough to find
in a listing, stable across processes and Python runs, never made from credentials.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import enum
import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import PurePath
from typing import Any

from ..errors import UsageError
from ..kinds import snake_name

KEY_VERSION = 1


def _utc_iso(value: _dt.datetime) -> str:
    if value.tzinfo is None:  # botocore reads naive datetimes as UTC; so do we
        value = value.replace(tzinfo=_dt.UTC)
    return value.astimezone(_dt.UTC).isoformat()


def _json_default(obj: Any) -> Any:
    """Canonical forms for what JSON lacks; anything else cannot be part of a key."""
    if isinstance(obj, _dt.datetime):
        return _utc_iso(obj)
    if isinstance(obj, _dt.date):
        return obj.isoformat()
    if isinstance(obj, set | frozenset):
        return sorted((_canonical(x) for x in obj), key=_dumps)
    if isinstance(obj, bytes | bytearray | memoryview):
        return {"__bytes__": bytes(obj).hex()}
    if isinstance(obj, decimal.Decimal):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, PurePath):
        return str(obj)
    hook = getattr(obj, "__cache_key__", None)
    if callable(hook):
        return hook()
    raise TypeError(f"a {type(obj).__module__}.{type(obj).__qualname__} cannot be part of "
                    "a cache key")


def _canonical(obj: Any) -> Any:
    """Slow path: dicts with non-string keys become sorted [key, value] pairs."""
    if isinstance(obj, Mapping):
        if all(isinstance(k, str) for k in obj):
            return {k: _canonical(v) for k, v in obj.items()}
        pairs = [[_canonical(k), _canonical(v)] for k, v in obj.items()]
        return {"__pairs__": sorted(pairs, key=_dumps)}
    if isinstance(obj, list | tuple):
        return [_canonical(x) for x in obj]
    if obj is None or isinstance(obj, str | int | float):
        return obj
    return _canonical(_json_default(obj))


# json.dumps(obj, sort_keys=True, …) builds this encoder on every call; one made once
# encodes the same (it keeps no state between calls) and takes that work off each key
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                            default=_json_default)
# …and its ``encode`` builds json's C encoder on every call: the C encoder built once with
# the same arguments (as ``JSONEncoder.iterencode`` does, without the cycle check) takes
# ~5 µs off a key at RTT 0 (of ~20, cold caches). A cycle overflows the recursion limit
# there; the full encoder then names it (``ValueError``).
_make_c_encoder = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODE = None if _make_c_encoder is None else _make_c_encoder(
    None, _json_default, json.encoder.encode_basestring, None, ":", ",", True, False, True)


def _dumps(obj: Any) -> str:
    if _C_ENCODE is not None:
        try:
            return "".join(_C_ENCODE(obj, 0))
        except RecursionError:
            pass
    return _ENCODER.encode(obj)


def _canonical_json(obj: Any) -> str:
    try:
        return _dumps(obj)
    except TypeError:  # non-string dict keys (mixed types do not sort), or an unknown type
        return _dumps(_canonical(obj))


def build_key(scope: str, region: str | None, service: str, operation: str,
               params: Mapping[str, Any], *, strict: bool = False) -> str:
    """``strict`` canonicalises first, so ``{1: x}`` and ``{"1": x}`` differ (json.dumps
    turns int keys into strings); AWS params always have string keys and skip it."""
    parts = [KEY_VERSION, scope, region, service, operation, params]
    text = _dumps(_canonical(parts)) if strict else _canonical_json(parts)
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return f"{service}.{operation}@{region or '-'}:{digest}"


Scope = str | Callable[[], str]


def scope_label(scope: Scope) -> str:
    """A scope is a label or a function that returns one (asked each time: the identity
    behind it can change, e.g. credentials of another account after a refresh)."""
    return scope() if callable(scope) else scope


def make_key(*, scope: str, region: str | None, service: str, operation: str,
             params: Mapping[str, Any]) -> str:
    """THE cache key of one call: ``service.operation@region:<sha256 of canonical JSON>``.

    ``scope`` is an identity label (``sandbox:<url>:<profile>``, ``aws:<account>:<profile>``),
    never a credential. Params are normalised (sorted keys, datetimes as ISO UTC,
    dates as ISO, sets sorted, tuples as lists) so the key is stable across processes
    and Python runs. The operation may be given in snake, CLI or API form.
    """
    return call_key(str(scope), region, str(service).strip().lower(),
                    snake_name(str(operation)), params)


def call_key(scope: str, region: str | None, service: str, operation: str,
             params: Mapping[str, Any]) -> str:
    """``make_key`` of names already in their one form (a validated call: boto3's service
    name, the snake operation), without normalising them again: the call path's way."""
    try:
        return build_key(scope, region, service, operation, params)
    except (TypeError, ValueError) as exc:
        raise UsageError(
            f"cannot build a cache key for {service}.{operation} from params {params!r}: {exc}",
            suggestion="pass plain values (str, numbers, lists, dicts, datetimes) as parameters",
        ) from None


def keyable(value: Any) -> bool:
    """True when ``value`` can be part of a key."""
    try:
        _canonical_json(value)
    except (TypeError, ValueError):
        return False
    return True
