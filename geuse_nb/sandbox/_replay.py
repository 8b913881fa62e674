"""A replayed spot market: the sandbox serves a given price history instead of its model.

``Sandbox.set_spot_history(df)`` sends rows (region, AZ, type, product, price, timestamp) to
the child, which answers DescribeSpotPriceHistory from them with the generated market's rules:
the same window (EndTime no later than now, the price in force at StartTime included), the same
filters, newest first, the same paging tokens. So a recorded market can be replayed, and a test
can pose a case whose answer it knows. Each pool's changes are kept sorted, so a window is two
bisections, not a scan.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from .market import PRODUCTS, Query, item, keep, match, page, parse_time, window

_Pool = tuple[str, str, str]  # (instance type, AZ, product)


class ReplayMarket:
    """DescribeSpotPriceHistory over a fixed list of price changes."""

    def __init__(self, rows: Iterable[Sequence[Any]], served: Iterable[str]) -> None:
        served = set(served)
        changes: dict[str, dict[_Pool, list[tuple[float, float]]]] = {}
        count = 0
        for row in rows:
            if len(row) != 6:
                raise ValueError(f"a spot-history row has 6 fields (region, availability_zone, "
                                 f"instance_type, product, price, timestamp), not {row!r}")
            region, az, itype, product, price, stamp = row
            if region not in served:
                raise ValueError(f"region {region!r} is not served by this sandbox "
                                 f"({', '.join(sorted(served))})")
            if product not in PRODUCTS:
                raise ValueError(f"product {product!r} is not one of {', '.join(PRODUCTS)}")
            value = float(price)
            if not value > 0:
                raise ValueError(f"price {price!r} is not a positive number")
            when = parse_time(str(stamp)).timestamp()
            pool = (str(itype), str(az), str(product))
            changes.setdefault(str(region), {}).setdefault(pool, []).append((when, value))
            count += 1
        self.rows = count
        self._pools: dict[str, dict[_Pool, tuple[list[float], list[float]]]] = {}
        for region, pools in changes.items():
            for pool, series in pools.items():
                series.sort()
                self._pools.setdefault(region, {})[pool] = (
                    [t for t, _ in series], [p for _, p in series])

    def summary(self) -> dict[str, Any]:
        """Rows, pools and regions held, and the first and last change (ISO, UTC)."""
        stamps = [s for pools in self._pools.values() for times, _ in pools.values()
                  for s in (times[0], times[-1])]
        iso = [dt.datetime.fromtimestamp(s, dt.UTC).isoformat() for s in (min(stamps),
                                                                           max(stamps))] \
            if stamps else [None, None]
        return {"rows": self.rows, "pools": sum(len(p) for p in self._pools.values()),
                "regions": sorted(self._pools), "first": iso[0], "last": iso[1]}

    def describe(self, region: str, query: Query,
                 now: dt.datetime | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """(items, next token) for one page in ``region``, as ``SpotMarket.describe``."""
        start, end, offset = window(query, now)
        lo, hi = start.timestamp(), end.timestamp()
        filters = dict(query.filters)
        items = []
        for (itype, az, product), (times, prices) in self._pools.get(region, {}).items():
            if ((query.instance_types and itype not in query.instance_types)
                    or (query.products and product not in query.products)
                    or (query.availability_zone and az != query.availability_zone)
                    or not match(filters, "instance-type", itype)
                    or not match(filters, "availability-zone", az)
                    or not match(filters, "product-description", product)):
                continue
            first = max(bisect.bisect_right(times, lo) - 1, 0)  # the price in force at start
            for i in range(first, bisect.bisect_right(times, hi)):
                when = dt.datetime.fromtimestamp(times[i], dt.UTC)
                if keep(filters, when, prices[i]):
                    items.append(item(itype, product, prices[i], when, az))
        return page(items, query, offset, start, end)


HISTORY_COLUMNS = ("region", "availability_zone", "instance_type", "product", "price",
                   "timestamp")


def history_rows(history: Any, regions: Sequence[str],
                 shift_to_now: bool = False) -> list[list[Any]]:
    """JSON-ready rows of a history DataFrame (client side; SandboxError on bad input)."""
    import pandas as pd

    from ..errors import SandboxError, did_you_mean

    if not isinstance(history, pd.DataFrame):
        raise SandboxError(f"set_spot_history takes a DataFrame, not {type(history).__name__}",
                           suggestion="pass what geuse_nb.ops.spot.history() returns")
    frame = history.copy()
    if "product" not in frame.columns:
        frame["product"] = "Linux/UNIX"
    missing = [c for c in HISTORY_COLUMNS if c not in frame.columns]
    if missing:
        raise SandboxError(
            f"the history has no column(s) {', '.join(missing)}"
            f"{did_you_mean(missing[0], [str(c) for c in frame.columns])}",
            suggestion="give columns " + ", ".join(HISTORY_COLUMNS))
    unknown = sorted(set(frame["region"].astype(str)) - set(regions))
    if unknown:
        raise SandboxError(f"the history has regions this sandbox does not serve: {unknown}",
                           suggestion=f"keep rows of {', '.join(regions)}")
    bad_products = sorted(set(frame["product"].astype(str)) - set(PRODUCTS))
    if bad_products:
        raise SandboxError(f"unknown product(s) {bad_products}"
                           f"{did_you_mean(bad_products[0], PRODUCTS)}",
                           suggestion=f"use {', '.join(PRODUCTS)}")
    stamps = pd.to_datetime(frame["timestamp"], utc=True)
    prices = pd.to_numeric(frame["price"], errors="coerce")
    if prices.isna().any() or (prices <= 0).any() or stamps.isna().any():
        raise SandboxError("the history has missing or non-positive prices or timestamps",
                           suggestion="drop those rows first")
    if shift_to_now and len(stamps):
        stamps = stamps + (pd.Timestamp.now(tz="UTC").floor("s") - stamps.max())
    iso = stamps.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return [list(row) for row in zip(frame["region"].astype(str),
                                     frame["availability_zone"].astype(str),
                                     frame["instance_type"].astype(str),
                                     frame["product"].astype(str), prices.astype(float), iso,
                                     strict=True)]
