"""AWS kinds and operation names: one table, read by settings, cache keys and the call path.

A *kind* groups read operations whose answers age alike, so they share a TTL
(regions change yearly, spot prices hourly). Adding a kind is one row in
``KINDS``; the settings (``cache_kind_ttls``, ``cache_kind_stale``) accept
exactly these names and answer anything else with "did you mean".

Operation names arrive in three spellings (``describe_regions``,
``describe-regions``, ``DescribeRegions``); ``snake_name`` and ``api_name``
are the one place that converts between them.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


class Kind(enum.StrEnum):
    """What an AWS read returns, for its cache lifetime."""

    REGIONS = "regions"
    AVAILABILITY_ZONES = "availability_zones"
    INSTANCE_TYPES = "instance_types"
    SPOT_PRICES = "spot_prices"


@dataclass(frozen=True)
class KindSpec:
    kind: Kind
    default_ttl: float  # seconds
    operations: frozenset[tuple[str, str]]  # (service, snake_operation)


KINDS: Mapping[Kind, KindSpec] = MappingProxyType({
    spec.kind: spec for spec in (
        KindSpec(Kind.REGIONS, 86_400.0, frozenset({("ec2", "describe_regions")})),
        KindSpec(Kind.AVAILABILITY_ZONES, 86_400.0,
                 frozenset({("ec2", "describe_availability_zones")})),
        KindSpec(Kind.INSTANCE_TYPES, 3_600.0,
                 frozenset({("ec2", "describe_instance_types"),
                            ("ec2", "describe_instance_type_offerings")})),
        KindSpec(Kind.SPOT_PRICES, 3_600.0,
                 frozenset({("ec2", "describe_spot_price_history")})),
    )
})

DEFAULT_KIND_TTLS: Mapping[str, float] = MappingProxyType(
    {str(k): spec.default_ttl for k, spec in KINDS.items()})
KIND_NAMES: tuple[str, ...] = tuple(str(k) for k in KINDS)

_BY_OPERATION: Mapping[tuple[str, str], Kind] = MappingProxyType(
    {op: spec.kind for spec in KINDS.values() for op in spec.operations})

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


@functools.lru_cache(maxsize=4096)
def snake_name(operation: str) -> str:
    """``DescribeRegions`` / ``describe-regions`` / ``describe_regions`` → ``describe_regions``."""
    return _CAMEL.sub("_", str(operation).strip()).replace("-", "_").lower()


@functools.lru_cache(maxsize=4096)
def api_name(operation: str) -> str:
    """Any spelling → the API's ``DescribeRegions``. A name already in API form is kept as
    given: its acronyms (``DescribeDBInstances``) cannot be rebuilt from snake case."""
    text = str(operation).strip()
    if text[:1].isupper() and "_" not in text and "-" not in text:
        return text
    return "".join(part[:1].upper() + part[1:] for part in snake_name(operation).split("_"))


def kind_of(service: str, operation: str) -> Kind | None:
    """The kind of an operation, or None (the default TTL applies)."""
    return _BY_OPERATION.get((str(service).strip().lower(), snake_name(operation)))


def is_read_operation(operation: str) -> bool:
    """True for ``describe*``/``get*``/``list*`` in any spelling: the cacheable ones."""
    return snake_name(operation).startswith(("describe_", "get_", "list_"))
