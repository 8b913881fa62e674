"""Sandbox regions: the default list, where they are, and the round-trip time between them.

Default RTTs come from the great-circle distance to the home region: 1 ms inside a region,
plus 0.0125 ms per km (light in fibre is ~200 km/ms one way, and real routes are ~25 % longer
than the great circle), which gives about 70 ms from us-east-1 to eu-west-1, as on AWS.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from ..errors import SandboxError, unknown_region

# (latitude, longitude) of each region's metro area, from AWS's public region list.
COORDINATES: Mapping[str, tuple[float, float]] = MappingProxyType({
    "us-east-1": (38.9, -77.4), "us-east-2": (40.0, -83.0), "us-west-1": (37.4, -121.9),
    "us-west-2": (45.6, -121.2), "ca-central-1": (45.5, -73.6), "eu-west-1": (53.3, -6.3),
    "eu-west-2": (51.5, -0.1), "eu-west-3": (48.9, 2.4), "eu-central-1": (50.1, 8.7),
    "eu-north-1": (59.3, 18.1), "eu-south-1": (45.5, 9.2), "ap-south-1": (19.1, 72.9),
    "ap-southeast-1": (1.3, 103.8), "ap-southeast-2": (-33.9, 151.2),
    "ap-northeast-1": (35.7, 139.7), "ap-northeast-2": (37.6, 127.0),
    "ap-northeast-3": (34.7, 135.5), "ap-east-1": (22.3, 114.2), "sa-east-1": (-23.5, -46.6),
    "me-south-1": (26.1, 50.6), "af-south-1": (-33.9, 18.4),
})
DEFAULT_REGIONS: tuple[str, ...] = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1",
    "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "ap-south-1", "ap-southeast-1",
    "ap-southeast-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "sa-east-1",
)
IN_REGION_RTT = 0.001  # seconds
RTT_PER_KM = 0.0000125  # seconds per km of great-circle distance


def distance_km(a: str, b: str) -> float:
    """Great-circle (haversine) distance between two regions' metro areas."""
    (lat1, lon1), (lat2, lon2) = COORDINATES[a], COORDINATES[b]
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def default_rtt(home: str, region: str) -> float:
    """Seconds of round trip from ``home`` to ``region`` (0.1 s where coordinates are unknown)."""
    if home not in COORDINATES or region not in COORDINATES:
        return 0.1
    return round(IN_REGION_RTT + RTT_PER_KM * distance_km(home, region), 4)


def check_region(region: str, known: Iterable[str]) -> str:
    """``region`` if it is one of ``known``; else ``UsageError`` (``errors.unknown_region``,
    the same error the client side raises) naming the closest served regions."""
    names = list(known)
    if region in names:
        return region
    raise unknown_region(region, names, by="this sandbox",
                         listed_at="kit.sandbox.regions (Sandbox(regions=[...]) serves others)")


def resolve_rtts(regions: Iterable[str], home: str,
                 rtt: float | Mapping[str, float] | None) -> dict[str, float]:
    """Per-region RTTs: one number for all, a mapping for some (rest default), or defaults."""
    regions = list(regions)
    out = {r: default_rtt(home, r) for r in regions}
    if rtt is None:
        return out
    if isinstance(rtt, Mapping):
        for region, value in rtt.items():
            out[check_region(region, regions)] = _seconds("rtt", value)
        return out
    value = _seconds("rtt", rtt)
    return dict.fromkeys(regions, value)


def _seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 30:
        raise SandboxError(f"{name}={value!r} is not valid",
                           suggestion="give seconds as a number between 0 and 30 (0.05 = 50 ms)")
    return float(value)
