"""How a setting's raw value (an environment string, or whatever Python was passed)
becomes its typed value, and how the README shows a default; private to
``geuse_nb.config``, whose field declarations name these parsers.

A parser is ``(source, raw) -> value``: ``source`` is where the value came from
(an environment name, ``configure(x=...)``, a tuning profile) and is what a
``ConfigError`` names, with the value and the expected form. A *nullable* parser
reads ``None`` (and ``""``/``none``, plus ``auto``/``off`` for numbers) as unset.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError, did_you_mean
from ..kinds import KIND_NAMES

Parser = Callable[[str, Any], Any]


def boolean(name: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(name, raw, "a boolean: true/false, 1/0, yes/no or on/off")


def number(kind: type[int] | type[float], minimum: float, *, nullable: bool = False) -> Parser:
    """A whole number (``int``) or a number (``float``) ≥ ``minimum``."""
    what = "whole number" if kind is int else "number"
    expected = f"a {what} ≥ {minimum}"

    def parse(name: str, raw: Any) -> Any:
        if raw is None or (nullable and str(raw).strip().lower() in ("", "none", "auto", "off")):
            if nullable:
                return None
            raise ConfigError(name, raw, expected)
        if isinstance(raw, bool):
            raise ConfigError(name, raw, expected)
        try:
            value = float(raw) if kind is float else int(str(raw).strip())
        except (TypeError, ValueError):
            raise ConfigError(name, raw, expected + (" (or 'auto')" if nullable else "")) from None
        if value != value or value < minimum:  # NaN or below range
            raise ConfigError(name, raw, expected)
        return value

    return parse


def choice(choices: Iterable[str], *, nullable: bool = False) -> Parser:
    """One of ``choices`` (case-insensitive)."""
    options = tuple(choices)

    def parse(name: str, raw: Any) -> Any:
        if raw is None and nullable:
            return None
        word = str(raw).strip().lower()
        if nullable and word in ("", "none"):
            return None
        if word not in options:
            raise ConfigError(name, raw, "one of " + ", ".join(options))
        return word

    return parse


def text(*, nullable: bool = False) -> Parser:
    """A non-empty string, stripped."""

    def parse(name: str, raw: Any) -> Any:
        if raw is None and nullable:
            return None
        value = str(raw).strip()
        if not value:
            if nullable:
                return None
            raise ConfigError(name, raw, "a non-empty string")
        return value

    return parse


_text = text()


def path(name: str, raw: Any) -> Path:
    """A path; ``~`` and ``$VARS`` expanded."""
    return Path(os.path.expandvars(_text(name, raw))).expanduser()


def kind_seconds(defaults: Mapping[str, float]) -> Parser:
    """Seconds per cache kind, ``{"spot_prices": 600}`` or ``"spot_prices=600,regions=3600"``,
    merged over ``defaults``. Kinds are ``geuse_nb.kinds.KIND_NAMES``: any other name is
    refused with the closest ones, as an unknown setting is (a typo would otherwise be
    accepted and never match a cache entry)."""
    example = "e.g. spot_prices=600"

    def parse(name: str, raw: Any) -> Mapping[str, float]:
        given = raw
        if isinstance(raw, str):
            pairs: dict[str, Any] = {}
            for part in filter(None, (p.strip() for p in raw.split(","))):
                kind, sep, value = part.partition("=")
                if not sep or not kind.strip():
                    raise ConfigError(name, raw, f"comma-separated kind=seconds, {example}")
                pairs[kind.strip()] = value
            raw = pairs
        if not isinstance(raw, Mapping):
            raise ConfigError(name, raw, "a mapping of kind to seconds")
        merged = dict(defaults)
        for key, value in raw.items():
            kind = str(key).strip()
            if kind not in KIND_NAMES:
                raise ConfigError(name, given, (
                    f"kinds among {', '.join(KIND_NAMES)}; {kind!r} is not one"
                    f"{did_you_mean(kind, KIND_NAMES)}"))
            try:
                merged[kind] = _seconds(name, value)
            except ConfigError:
                raise ConfigError(name, given, f"seconds ≥ 0 for every kind ({kind!r} has "
                                               f"{value!r}), {example}") from None
        return MappingProxyType(merged)

    return parse


_seconds = number(float, 0)


# ------------------------------------------------------------- how the README shows them


def one_of(choices: Iterable[str], form: str = "{}") -> str:
    """``"a, b or c"``, each choice written with ``form``."""
    words = [form.format(c) for c in choices]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def duration(seconds: float) -> str:
    """``86400`` → ``"24 h"``, ``90`` → ``"90 s"``."""
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def shown_default(value: Any) -> str:
    """A default as the README's settings table shows it; a per-kind mapping is grouped
    by value: ``regions, availability_zones 24 h; instance_types, spot_prices 1 h``."""
    if value is None or (isinstance(value, Mapping) and not value):
        return "—"
    if isinstance(value, Mapping):
        groups: dict[float, list[str]] = {}
        for kind, seconds in value.items():
            groups.setdefault(seconds, []).append(str(kind))
        return "; ".join(f"{', '.join(kinds)} {duration(s)}" for s, kinds in groups.items())
    return str(value)
