"""Spot price history over regions × instance types: one ``kit.fanout``, checked first.

Every (region, type) pair is one job of one fan-out (``param_sets``), so paging, caching
(kind ``spot_prices``, 1 h), progress and failures (``attrs["failed"]``) are the core's.
``StartTime`` is rounded down to the hour: a rerun within the hour sends the same parameters,
so it is answered from the cache (a warm rerun of runbook 01 makes no request at all). Input
is checked before anything is sent: the sandbox answers an unknown type with no rows, not an
error, so a typo would otherwise look like "no capacity anywhere".
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ...errors import UsageError, closest
from ...sandbox.market import HISTORY_DAYS, PRODUCTS
from ._reference import known_types

if TYPE_CHECKING:
    import pandas as pd

    from ...kit import Kit

log = logging.getLogger(__name__)
COLUMNS = ("region", "availability_zone", "instance_type", "product", "price", "timestamp")
_TYPE_NAME = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$")


def check_days(days: object) -> float:
    """``days`` as a float in 1–90 (EC2 keeps 90 days); UsageError otherwise."""
    if isinstance(days, bool) or not isinstance(days, int | float) or not (
            1 <= days <= HISTORY_DAYS):
        raise UsageError(f"days={days!r} is not valid",
                         suggestion=f"give a number of days from 1 to {HISTORY_DAYS} (EC2 "
                                    f"keeps {HISTORY_DAYS} days of spot prices)")
    return float(days)


def check_product(product: object) -> str:
    if product not in PRODUCTS:
        hits = closest(str(product), PRODUCTS)
        raise UsageError(f"product={product!r} is not a spot product description"
                         + (f" (did you mean {hits[0]!r}?)" if hits else ""),
                         suggestion="use one of " + ", ".join(repr(p) for p in PRODUCTS))
    return str(product)


def _listed(name: str, value: object, expected: str) -> list[Any]:
    """A name or an iterable of names as a deduplicated, non-empty list; UsageError else."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, Iterable) or isinstance(names, dict):
        raise UsageError(f"{name}={value!r} is not valid", suggestion=f"give {expected}")
    out = list(dict.fromkeys(names))
    if not out:
        raise UsageError(f"{name} is empty", suggestion=f"give {expected}")
    return out


def check_types(instance_types: object, *, strict: bool) -> list[str]:
    """Instance type names, deduplicated; each must be in the project's table (``strict``, the
    sandbox) or at least be spelled like one (real AWS, where the table is a subset)."""
    names = _listed("instance_types", instance_types,
                    'a type or a list, e.g. ["g4dn.xlarge", "g5.xlarge"]')
    known = known_types()
    for name in names:
        if isinstance(name, str) and name in known:
            continue
        if not strict and isinstance(name, str) and _TYPE_NAME.match(name):
            log.info("instance type %r is not in the project's table; asking AWS anyway", name)
            continue
        hits = closest(str(name), known)
        raise UsageError(
            f"unknown instance type {name!r}"
            + (f" (did you mean {', '.join(repr(h) for h in hits)}?)" if hits else ""),
            suggestion=f"use a type of the price table ({len(known)} types, e.g. "
                       "g4dn.xlarge, g5.xlarge, g6.xlarge, m5.large; "
                       "geuse_nb.ops.spot.on_demand() lists them)")
    return [str(n) for n in names]


def check_regions(kit: Kit, regions: object) -> list[str] | str:
    """Region names checked against the kit's backend, or ``"all"`` (the sandbox's regions on
    the sandbox; every region ``describe_regions`` lists on AWS)."""
    if regions == "all":
        return list(kit.backend.endpoints) if kit.backend.kind == "sandbox" else "all"
    names = _listed("regions", regions, 'a region, a list of regions, or "all"')
    for name in names:
        kit.pool.check_region(name)
    return names


def history(kit: Kit, instance_types: str | Iterable[str], regions: str | Iterable[str] = "all",
            days: float = 7, product: str = "Linux/UNIX", *,
            refresh: bool = False) -> pd.DataFrame:
    """Spot price changes of ``instance_types`` in ``regions`` over the last ``days``.

    Returns ``region, availability_zone, instance_type, product, price`` (float USD/h),
    ``timestamp`` (UTC): one row per price change, plus the change in force when the window
    starts (as EC2 answers), oldest first per pool. ``attrs``: ``failed`` (from the fan-out),
    ``days``, ``start`` (the window's start, on the hour) and ``product``.
    """
    import pandas as pd

    days = check_days(days)
    product = check_product(product)
    types = check_types(instance_types, strict=kit.backend.kind == "sandbox")
    names = check_regions(kit, regions)
    start = (dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
             - dt.timedelta(days=days))
    raw = kit.fanout("ec2", "describe_spot_price_history", names,
                     param_sets=[{"InstanceTypes": [t]} for t in types],
                     desc=f"spot history · {len(types)} type(s)", refresh=refresh,
                     ProductDescriptions=[product], StartTime=start)
    frame = pd.DataFrame({
        "region": raw.get("region", pd.Series(dtype="str")).astype("str"),
        "availability_zone": raw.get("AvailabilityZone", pd.Series(dtype="str")).astype("str"),
        "instance_type": raw.get("InstanceType", pd.Series(dtype="str")).astype("str"),
        "product": raw.get("ProductDescription", pd.Series(dtype="str")).astype("str"),
        "price": pd.to_numeric(raw.get("SpotPrice", pd.Series(dtype="float64"))).astype(float),
        "timestamp": pd.to_datetime(raw.get("Timestamp", pd.Series(dtype="object")), utc=True),
    })
    frame = frame.sort_values(["region", "availability_zone", "instance_type", "timestamp"],
                              ignore_index=True)
    frame.attrs.update(failed=raw.attrs.get("failed", []), days=days, start=start,
                       product=product)
    return frame


def describe(frame: Any) -> str:
    """One line: rows, pools, regions and the time span of a history frame."""
    if not len(frame):
        return "no price changes"
    pools = frame.groupby(["region", "availability_zone", "instance_type"]).ngroups
    return (f"{len(frame):,} price changes in {pools} pools over "
            f"{frame['region'].nunique()} regions, {frame['timestamp'].min():%Y-%m-%d %H:%M} "
            f"to {frame['timestamp'].max():%Y-%m-%d %H:%M} UTC")
