"""The sandbox spot market: an EC2 ``DescribeSpotPriceHistory`` built on ``data/``.

Price of (region, AZ, type, product) at time t: the on-demand price × (1 − advisor savings),
× a fixed per-AZ factor (±12 %), × a bounded random walk that changes every ``STEP_HOURS`` at an
AZ-specific offset, capped at the on-demand price. Every random number is a hash of
(seed, region, AZ, type, product, time bucket), never global RNG state, so the answer does not
depend on the order of queries, and the same seed gives the same market in any process.
Windows on-demand = Linux + ``WINDOWS_PER_VCPU`` USD per vCPU-hour (AWS's licence surcharge).
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
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

PRODUCTS = ("Linux/UNIX", "Linux/UNIX (Amazon VPC)", "Windows", "Windows (Amazon VPC)")
STEP_HOURS = 4
WALK_STEPS = 12  # the walk is a moving sum of the last WALK_STEPS hashed steps
WALK_SIGMA = 0.05
AZ_SPREAD = 0.12
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
    savings_linux: float
    savings_windows: float

    def base_price(self, product: str) -> float:
        if product.startswith("Windows"):
            return (self.ondemand_linux + WINDOWS_PER_VCPU * self.vcpu) * (
                1 - self.savings_windows / 100)
        return self.ondemand_linux * (1 - self.savings_linux / 100)

    def ondemand(self, product: str) -> float:
        extra = WINDOWS_PER_VCPU * self.vcpu if product.startswith("Windows") else 0.0
        return self.ondemand_linux + extra


def load_offers(path: Path | None = None) -> dict[tuple[str, str], Offer]:
    """{(region, type): Offer} from ``spot_market.csv``."""
    path = path or data_dir() / "spot_market.csv"
    offers = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            offer = Offer(row["region"], row["instance_type"], int(row["vcpu"]),
                          float(row["ondemand_linux"]), float(row["savings_linux"]),
                          float(row["savings_windows"]))
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
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


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
    """Deterministic spot price history for the regions and AZs it is given."""

    def __init__(self, seed: int, zones: Mapping[str, Iterable[str]],
                 offers: Mapping[tuple[str, str], Offer] | None = None) -> None:
        self.seed = seed
        self.zones = {r: list(z) for r, z in zones.items()}
        self.offers = dict(offers) if offers is not None else load_offers()

    # ------------------------------------------------------------ the model
    def _walk(self, region: str, az: str, itype: str, product: str, bucket: int) -> float:
        # Linux and Linux (VPC) share one series, as on AWS; so do the two Windows products.
        family = "win" if product.startswith("Windows") else "linux"
        total = sum(_unit(self.seed, region, az, itype, family, k) - 0.5
                    for k in range(bucket - WALK_STEPS + 1, bucket + 1))
        return math.exp(WALK_SIGMA * total * math.sqrt(12 / WALK_STEPS))

    def _change_time(self, region: str, az: str, itype: str, bucket: int) -> dt.datetime:
        offset = _unit(self.seed, "offset", region, az, itype, bucket)
        return _EPOCH + _STEP * bucket + _STEP * offset

    def price(self, region: str, az: str, itype: str, product: str, bucket: int) -> float:
        """The price set at the start of ``bucket``'s change for (region, az, type, product)."""
        offer = self.offers[(region, itype)]
        az_factor = 1 + AZ_SPREAD * (2 * _unit(self.seed, "az", region, az, itype) - 1)
        value = offer.base_price(product) * az_factor * self._walk(region, az, itype, product,
                                                                  bucket)
        return round(min(value, offer.ondemand(product)), 6)

    def _series(self, region: str, az: str, itype: str, product: str, start: dt.datetime,
                end: dt.datetime) -> list[tuple[dt.datetime, float]]:
        """Price changes in [start, end], plus the price in effect at ``start``."""
        first = math.floor((start - _EPOCH) / _STEP) - 1
        last = math.floor((end - _EPOCH) / _STEP)
        out: list[tuple[dt.datetime, float]] = []
        for bucket in range(first, last + 1):
            when = self._change_time(region, az, itype, bucket)
            if when > end:
                break
            item = (when, self.price(region, az, itype, product, bucket))
            if when <= start:
                out = [item]  # only the latest change before the window counts
            else:
                out.append(item)
        return out

    # ------------------------------------------------------------ the API
    def describe(self, region: str, query: Query,
                 now: dt.datetime | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """(items, next token) for one DescribeSpotPriceHistory page in ``region``."""
        now = now or dt.datetime.now(dt.UTC)
        end = min(query.end or now, now)
        start = query.start or end - DEFAULT_WINDOW
        start = max(start, now - dt.timedelta(days=HISTORY_DAYS))
        offset = 0
        if query.next_token:  # later pages use the first page's window, so nothing shifts
            offset, start, end = _decode_token(query.next_token)
        filters = dict(query.filters)
        types = query.instance_types or tuple(sorted(t for r, t in self.offers if r == region))
        products = query.products or PRODUCTS
        zones = self.zones.get(region, [])
        if query.availability_zone:
            zones = [z for z in zones if z == query.availability_zone]
        items = []
        for itype in types:
            if (region, itype) not in self.offers or not _match(filters, "instance-type", itype):
                continue
            for az in zones:
                if not _match(filters, "availability-zone", az):
                    continue
                for product in products:
                    if product not in PRODUCTS or not _match(filters, "product-description",
                                                             product):
                        continue
                    for when, price in self._series(region, az, itype, product, start, end):
                        if _match(filters, "timestamp", _iso(when)) and _match(
                                filters, "spot-price", f"{price:.6f}"):
                            items.append({"instanceType": itype, "productDescription": product,
                                          "spotPrice": f"{price:.6f}", "timestamp": _iso(when),
                                          "availabilityZone": az})
        items.sort(key=lambda i: (i["timestamp"], i["availabilityZone"], i["instanceType"],
                                  i["productDescription"]), reverse=True)
        page = items[offset:offset + query.max_results]
        more = offset + query.max_results < len(items)
        return page, _encode_token(offset + query.max_results, start, end) if more else None


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
