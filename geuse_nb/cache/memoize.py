"""``kit.cached``: a function's results memoised in the kit's tiered cache.

Like joblib's ``Memory.cache``: a decorator with or without parentheses; the wrapped
function has ``.key()``, ``.evict()`` and ``.clear()``; arguments such as a client can be
left out of the key with ``ignore``; exceptions are not cached. Threads calling with the
same arguments at once run the function once and share its result or its exception
(``TieredCache.single_flight``).

This module uses the cache; the cache does not know it (one direction only).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ._tier import check_ttl
from .keys import Scope, build_key, keyable, scope_label

if TYPE_CHECKING:
    from collections.abc import Callable

    from .tiered import TieredCache


def memoize(cache: TieredCache, fn: Callable[..., Any] | None = None, *,
            ttl: float | None = None, kind: str | None = None, ignore: Iterable[str] = (),
            scope: Scope = "") -> Any:
    """Cache ``fn``'s results in ``cache``; with ``fn`` omitted, a decorator.

    The decorated function has ``.clear()``, ``.key(*args, **kwargs)`` and
    ``.evict(*args, **kwargs)``. ``ignore`` names arguments left out of the key (a
    client, a progress bar); ``kind`` picks the TTL (a ``geuse_nb.kinds.Kind``, or a
    label of one's own with the default TTL) and the stats row. Exceptions are not
    cached. When caching is off the wrapper calls straight through with the same API.
    """
    if ttl is not None:
        check_ttl(ttl)
    if fn is None:
        return functools.partial(memoize, cache, ttl=ttl, kind=kind, ignore=ignore,
                                 scope=scope)
    if not callable(fn):
        raise UsageError(f"cannot memoize {fn!r}: it is not callable",
                         suggestion="decorate a function: @kit.cached or @kit.cached(ttl=60)")
    return Memoized(cache, fn, ttl=ttl, kind=kind, ignore=tuple(ignore), scope=scope)


class Memoized:
    """A function wrapped by ``memoize``: call it; ``.key``/``.evict``/``.clear``."""

    def __init__(self, cache: TieredCache, fn: Callable[..., Any], *, ttl: float | None,
                 kind: str | None, ignore: tuple[str, ...], scope: Scope) -> None:
        functools.update_wrapper(self, fn)
        self._cache = cache
        self._fn = fn
        self._ttl = ttl
        self._kind = kind
        self._ignore = frozenset(ignore)
        self._scope = scope
        self._name = f"{getattr(fn, '__module__', None) or '?'}." \
                     f"{getattr(fn, '__qualname__', None) or type(fn).__qualname__}"
        try:
            self._signature: inspect.Signature | None = inspect.signature(fn)
        except (TypeError, ValueError):
            self._signature = None
        if self._signature is not None and self._ignore:
            params = self._signature.parameters
            takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
            unknown = sorted(self._ignore - set(params))
            if unknown and not takes_kwargs:
                raise UsageError(f"ignore={sorted(self._ignore)!r}: {self._name} has no "
                                 f"argument {', '.join(unknown)}",
                                 suggestion="name arguments of the function: "
                                            + ", ".join(params))
        self._group = f"memoize.{self._name}"
        self._prefix = f"memoize.{self._name}@"

    def _params(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if self._signature is None:
            return {"args": list(args), "kwargs": kwargs}
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        out: dict[str, Any] = {}
        for name, value in bound.arguments.items():
            if name in self._ignore:
                continue
            if self._signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
                value = {k: v for k, v in value.items() if k not in self._ignore}
            out[name] = value
        return out

    def key(self, *args: Any, **kwargs: Any) -> str:
        """The cache key of one call (evict it with ``.evict`` or ``cache.evict``)."""
        try:
            params = self._params(args, kwargs)
        except TypeError as exc:
            raise UsageError(f"{self._name}: {exc}",
                             suggestion="pass the arguments the function takes") from None
        return self._key(params)

    def _key(self, params: dict[str, Any]) -> str:
        try:
            return build_key(scope_label(self._scope), None, "memoize", self._name, params,
                              strict=True)
        except (TypeError, ValueError):
            bad = next((n for n, v in params.items() if not keyable(v)), "?")
            raise UsageError(
                f"{self._name}: argument {bad!r} ({type(params.get(bad)).__name__}) cannot be "
                "part of a cache key",
                suggestion=f"leave it out of the key with ignore=({bad!r},) or pass a plain "
                           "value (str, number, list, dict, datetime)") from None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        cache = self._cache
        if not cache.enabled:
            return self._fn(*args, **kwargs)
        try:
            params = self._params(args, kwargs)
        except TypeError:
            return self._fn(*args, **kwargs)  # let the function raise its own TypeError
        key = self._key(params)
        epoch = cache.flight.epoch
        found = cache.lookup(key, kind=self._kind)
        if found.hit:
            return found.value

        def fetch() -> Any:
            value = self._fn(*args, **kwargs)
            cache.store(key, value, kind=self._kind, ttl=self._ttl, group=self._group)
            return value

        return cache.single_flight(key, fetch, kind=self._kind, since=epoch)[0]

    def evict(self, *args: Any, **kwargs: Any) -> None:
        """Drop the entry of one call."""
        self._cache.evict(self.key(*args, **kwargs))

    def clear(self) -> None:
        """Drop every entry of this function (all scopes, both tiers)."""
        self._cache.clear_group(self._prefix, self._group, self._kind)

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return functools.partial(self, instance)

    def __repr__(self) -> str:
        return f"<memoized {self._name} in {self._cache!r}>"

