"""The sandbox spot market: an EC2 ``DescribeSpotPriceHistory`` built on ``data/``.

Price of (region, AZ, type, product) at time t: the AZ's real spot price level from the table
(SkyPilot's catalog names AZs by id, ``use1-az2``; the sandbox names them as moto does,
``us-east-1c``, and moto's own name → id table, the one its DescribeAvailabilityZones reports,
joins the two) × a bounded random walk that changes every ``STEP_HOURS`` at an AZ-specific
offset, capped at the on-demand price. An AZ the catalog gives no spot price for a type does not
offer that type (use1-az3 offers few types on AWS too), so it serves no rows for it. Every random
number is a hash of (seed, region, AZ, type, product, time bucket), never global RNG state, so
the answer does not depend on the order of queries, and the same seed gives the same market in
any process. Windows = the Linux level + ``WINDOWS_PER_VCPU`` USD per vCPU-hour (AWS's licence
surcharge, which spot does not discount), capped at Windows on-demand.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import datetime as dt
import fnmatch
import hashlib
import json
import math
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

PRODUCTS = ("Linux/UNIX", "Linux/UNIX (Amazon VPC)", "Windows", "Windows (Amazon VPC)")
STEP_HOURS = 4
WALK_STEPS = 12  # the walk is a moving sum of the last WALK_STEPS hashed steps
WALK_SIGMA = 0.05
WINDOWS_PER_VCPU = 0.046
HISTORY_DAYS = 90
DEFAULT_WINDOW = dt.timedelta(days=1)
MAX_RESULTS = 1000
FILTERS = ("instance-type", "availability-zone", "product-description", "spot-price",
           "timestamp")
_STEP = dt.timedelta(hours=STEP_HOURS)
_EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


class MarketError(ValueError):
    """A bad DescribeSpotPriceHistory parameter; carries the EC2 error code."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


def data_dir() -> Path:
    """The directory holding ``spot_market.csv``: ``$GEUSE_DATA_DIR``, else the checkout's
    ``data/``, else where an installed wheel put it (``<prefix>/share/geuse_nb``)."""
    env = os.environ.get("GEUSE_DATA_DIR")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[2] / "data"
    if (checkout / "spot_market.csv").is_file():
        return checkout
    return Path(sys.prefix) / "share" / "geuse_nb"


@dataclasses.dataclass(frozen=True)
class Offer:
    """One (region, instance type) row of the market table."""

    region: str
    instance_type: str
    vcpu: int
    ondemand_linux: float
    spot_by_az: Mapping[str, float]  # AZ id → the catalog's Linux spot price there
    memory_gib: float = 0.0
    gpus: int = 0
    savings_linux: float | None = None  # advisor figures; None where the feed has no row
    savings_windows: float | None = None
    interruption: int | None = None

    def base_price(self, product: str, zone_id: str) -> float | None:
        """The spot price level in AZ ``zone_id``; None when the AZ does not offer the type."""
        level = self.spot_by_az.get(zone_id)
        if level is None:
            return None
        return level + WINDOWS_PER_VCPU * self.vcpu if product.startswith("Windows") else level

    def ondemand(self, product: str) -> float:
        extra = WINDOWS_PER_VCPU * self.vcpu if product.startswith("Windows") else 0.0
        return self.ondemand_linux + extra


def load_offers(path: Path | None = None) -> dict[tuple[str, str], Offer]:
    """{(region, type): Offer} from ``spot_market.csv``."""
    path = path or data_dir() / "spot_market.csv"
    def maybe(text: str) -> float | None:
        return float(text) if text else None

    offers = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            zones = dict(item.split(":") for item in row["spot_by_az"].split())
            offer = Offer(row["region"], row["instance_type"], int(row["vcpu"]),
                          float(row["ondemand_linux"]),
                          {z: float(p) for z, p in zones.items()},
                          float(row["memory_gib"]), int(row["gpus"]),
                          maybe(row["savings_linux"]), maybe(row["savings_windows"]),
                          int(row["interruption"]) if row["interruption"] else None)
            offers[(offer.region, offer.instance_type)] = offer
    return offers


def _unit(*parts: object) -> float:
    """A uniform number in [0, 1) from a hash of ``parts``."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def parse_time(text: str) -> dt.datetime:
    """An EC2 timestamp parameter (ISO 8601 or epoch seconds) as an aware UTC datetime."""
    try:
        if text.replace(".", "", 1).isdigit():
            return dt.datetime.fromtimestamp(float(text), dt.UTC)
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MarketError("InvalidParameterValue",
                          f"Value ({text}) for parameter time is invalid.") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _iso(t: dt.datetime) -> str:
    if t.tzinfo is not dt.UTC:
        t = t.astimezone(dt.UTC)
    return t.isoformat(timespec="seconds")[:19] + ".000Z"  # isoformat: ~5× strftime


@dataclasses.dataclass(frozen=True)
class Query:
    """DescribeSpotPriceHistory parameters, as EC2's query protocol sends them."""

    instance_types: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    availability_zone: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    max_results: int = MAX_RESULTS
    next_token: str | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, list[str]]) -> Query:
        def listed(prefix: str) -> tuple[str, ...]:
            keys = sorted((k for k in params if k.startswith(prefix + ".")),
                          key=lambda k: int(k.rsplit(".", 1)[1]) if k.rsplit(".", 1)[1]
                          .isdigit() else 0)
            return tuple(params[k][0] for k in keys)

        def one(name: str) -> str | None:
            return params[name][0] if params.get(name) else None

        filters = []
        names = {k.split(".")[1] for k in params if k.startswith("Filter.")}
        for n in sorted(names, key=lambda s: int(s) if s.isdigit() else 0):
            name = one(f"Filter.{n}.Name") or ""
            if name not in FILTERS:
                raise MarketError("InvalidParameterValue",
                                  f"The filter '{name}' is invalid for DescribeSpotPriceHistory")
            filters.append((name, listed(f"Filter.{n}.Value")))
        raw_max = one("MaxResults")
        try:
            max_results = int(raw_max) if raw_max else MAX_RESULTS
        except ValueError:
            max_results = -1
        if not 1 <= max_results <= MAX_RESULTS:
            raise MarketError("InvalidParameterValue",
                              f"Value ({raw_max}) for parameter maxResults is invalid. "
                              f"Expecting a value between 1 and {MAX_RESULTS}.")
        start, end = one("StartTime"), one("EndTime")
        return cls(listed("InstanceType"), listed("ProductDescription"),
                   one("AvailabilityZone"), parse_time(start) if start else None,
                   parse_time(end) if end else None, tuple(filters), max_results,
                   one("NextToken"))


class SpotMarket:
    """Deterministic spot price history for the regions and AZs it is given.

    ``zones`` maps each region to its ``{AZ name: AZ id}`` (moto's table in the sandbox).
    """

    def __init__(self, seed: int, zones: Mapping[str, Mapping[str, str]],
                 offers: Mapping[tuple[str, str], Offer] | None = None) -> None:
        self.seed = seed
        self.zones = {r: dict(z) for r, z in zones.items()}
        self.offers = dict(offers) if offers is not None else load_offers()

    # ------------------------------------------------------------ the model
    def _steps(self, region: str, az: str, itype: str, product: str, lo: int,
               hi: int) -> list[float]:
        """The walk's hashed steps of buckets ``lo``..``hi`` (inclusive)."""
        # Linux and Linux (VPC) share one series, as on AWS; so do the two Windows products.
        family = "win" if product.startswith("Windows") else "linux"
        return [_unit(self.seed, region, az, itype, family, k) - 0.5 for k in range(lo, hi + 1)]

    def _walk(self, region: str, az: str, itype: str, product: str, bucket: int,
              steps: list[float] | None = None) -> float:
        """The walk's factor at ``bucket``: exp of the moving sum of its last WALK_STEPS steps
        (``steps``: those steps already hashed, as ``_series`` passes them)."""
        if steps is None:
            steps = self._steps(region, az, itype, product, bucket - WALK_STEPS + 1, bucket)
        return math.exp(WALK_SIGMA * sum(steps) * math.sqrt(12 / WALK_STEPS))

    def _change_time(self, region: str, az: str, itype: str, bucket: int) -> dt.datetime:
        offset = _unit(self.seed, "offset", region, az, itype, bucket)
        return _EPOCH + _STEP * bucket + _STEP * offset

    def offered(self, region: str, az: str, itype: str) -> bool:
        """True when AZ ``az`` of ``region`` has a spot price level for ``itype``."""
        offer = self.offers.get((region, itype))
        zone_id = self.zones.get(region, {}).get(az)
        return offer is not None and zone_id in offer.spot_by_az

    def price(self, region: str, az: str, itype: str, product: str, bucket: int,
              steps: list[float] | None = None) -> float:
        """The price set at the start of ``bucket``'s change for (region, az, type, product)."""
        offer = self.offers[(region, itype)]
        level = offer.base_price(product, self.zones[region][az])
        if level is None:
            raise KeyError(f"{az} does not offer {itype}")
        value = level * self._walk(region, az, itype, product, bucket, steps)
        return round(min(value, offer.ondemand(product)), 6)

    def _series(self, region: str, az: str, itype: str, product: str, start: dt.datetime,
                end: dt.datetime) -> list[tuple[dt.datetime, float]]:
        """Price changes in [start, end], plus the price in effect at ``start``. Each bucket's
        walk shares all but one step with the previous one, so the steps are hashed once for
        the whole series (12× fewer hashes than pricing bucket by bucket; same numbers)."""
        first = math.floor((start - _EPOCH) / _STEP) - 1
        last = math.floor((end - _EPOCH) / _STEP)
        lo = first - WALK_STEPS + 1
        steps = self._steps(region, az, itype, product, lo, last)
        out: list[tuple[dt.datetime, float]] = []
        for bucket in range(first, last + 1):
            when = self._change_time(region, az, itype, bucket)
            if when > end:
                break
            window_steps = steps[bucket - WALK_STEPS + 1 - lo:bucket + 1 - lo]
            item = (when, self.price(region, az, itype, product, bucket, window_steps))
            if when <= start:
                out = [item]  # only the latest change before the window counts
            else:
                out.append(item)
        return out

    # ------------------------------------------------------------ the API
    def describe(self, region: str, query: Query,
                 now: dt.datetime | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """(items, next token) for one DescribeSpotPriceHistory page in ``region``."""
        start, end, offset = window(query, now)
        filters = dict(query.filters)
        types = query.instance_types or tuple(sorted(t for r, t in self.offers if r == region))
        products = query.products or PRODUCTS
        zones = list(self.zones.get(region, {}))
        if query.availability_zone:
            zones = [z for z in zones if z == query.availability_zone]
        items = []
        for itype in types:
            if (region, itype) not in self.offers or not _match(filters, "instance-type", itype):
                continue
            for az in zones:
                if not _match(filters, "availability-zone", az) or not self.offered(
                        region, az, itype):
                    continue
                for product in products:
                    if product not in PRODUCTS or not _match(filters, "product-description",
                                                             product):
                        continue
                    for when, price in self._series(region, az, itype, product, start, end):
                        if keep(filters, when, price):
                            items.append(item(itype, product, price, when, az))
        return page(items, query, offset, start, end)


def window(query: Query, now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime, int]:
    """(start, end, offset) of a query: EndTime no later than now, StartTime a day before it
    by default and no earlier than ``HISTORY_DAYS`` ago; later pages keep the first page's
    window (carried in the token), so nothing shifts between pages."""
    if query.next_token:
        offset, start, end = _decode_token(query.next_token)
        return start, end, offset
    now = now or dt.datetime.now(dt.UTC)
    end = min(query.end or now, now)
    start = query.start or end - DEFAULT_WINDOW
    return max(start, now - dt.timedelta(days=HISTORY_DAYS)), end, 0


def keep(filters: Mapping[str, tuple[str, ...]], when: dt.datetime, price: float) -> bool:
    """The ``timestamp`` and ``spot-price`` filters (formatted only when there is one)."""
    if "timestamp" in filters and not _match(filters, "timestamp", _iso(when)):
        return False
    return "spot-price" not in filters or _match(filters, "spot-price", f"{price:.6f}")


def item(itype: str, product: str, price: float, when: dt.datetime, az: str) -> dict[str, Any]:
    """One spotPriceHistorySet item, as EC2 spells it."""
    return {"instanceType": itype, "productDescription": product, "spotPrice": f"{price:.6f}",
            "timestamp": _iso(when), "availabilityZone": az}


def page(items: list[dict[str, Any]], query: Query, offset: int, start: dt.datetime,
         end: dt.datetime) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first (as EC2), one page from ``offset``, and the token of the next page."""
    items.sort(key=lambda i: (i["timestamp"], i["availabilityZone"], i["instanceType"],
                              i["productDescription"]), reverse=True)
    chunk = items[offset:offset + query.max_results]
    more = offset + query.max_results < len(items)
    return chunk, _encode_token(offset + query.max_results, start, end) if more else None


def match(filters: Mapping[str, tuple[str, ...]], name: str, value: str) -> bool:
    """True when ``value`` matches one of the filter's wildcard patterns (or no filter)."""
    return _match(filters, name, value)


def _match(filters: Mapping[str, tuple[str, ...]], name: str, value: str) -> bool:
    patterns = filters.get(name)
    return patterns is None or any(fnmatch.fnmatchcase(value, p) for p in patterns)


def _encode_token(offset: int, start: dt.datetime, end: dt.datetime) -> str:
    state = {"o": offset, "s": start.timestamp(), "e": end.timestamp()}
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def _decode_token(token: str) -> tuple[int, dt.datetime, dt.datetime]:
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()))
        return (int(state["o"]), dt.datetime.fromtimestamp(state["s"], dt.UTC),
                dt.datetime.fromtimestamp(state["e"], dt.UTC))
    except (ValueError, KeyError, TypeError):
        raise MarketError("InvalidNextToken", f"The token '{token}' is invalid.") from None


def to_xml(items: list[dict[str, Any]], next_token: str | None, request_id: str) -> bytes:
    """EC2's DescribeSpotPriceHistoryResponse XML."""
    fields = ("instanceType", "productDescription", "spotPrice", "timestamp", "availabilityZone")
    body = "".join(
        "<item>" + "".join(f"<{f}>{escape(str(item[f]))}</{f}>" for f in fields) + "</item>"
        for item in items)
    token = f"<nextToken>{escape(next_token)}</nextToken>" if next_token else ""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<DescribeSpotPriceHistoryResponse '
            'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
            f"<requestId>{request_id}</requestId><spotPriceHistorySet>{body}"
            f"</spotPriceHistorySet>{token}</DescribeSpotPriceHistoryResponse>").encode()
