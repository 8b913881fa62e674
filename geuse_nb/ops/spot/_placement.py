"""Spot placement scores (``GetSpotPlacementScores``): AWS's 1–10 estimate that a request for
``target_capacity`` instances would succeed in a region or AZ now. Only real AWS answers it
(moto has no such operation), so on the sandbox no request is sent and the result says so in
one line (``attrs["note"]``); ``rank(placement=...)`` then simply has no placement term.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ...errors import AwsCallError, UsageError
from ._history import check_regions, check_types

if TYPE_CHECKING:
    import pandas as pd

    from ...kit import Kit

log = logging.getLogger(__name__)
COLUMNS = ["region", "availability_zone", "availability_zone_id", "placement_score"]
SANDBOX_NOTE = ("placement scores: the sandbox does not answer GetSpotPlacementScores "
                "(real AWS only), so the ranking has no placement term")


def placement_scores(kit: Kit, instance_types: str | Iterable[str],
                     regions: str | Iterable[str] = "all", *, target_capacity: int = 1,
                     single_az: bool = True) -> pd.DataFrame:
    """``region, availability_zone, availability_zone_id, placement_score`` (1–10, higher is
    likelier), one row per region (or AZ with ``single_az``); ``attrs["note"]`` says why it is
    empty when the backend does not answer."""
    import pandas as pd

    if isinstance(target_capacity, bool) or not isinstance(target_capacity, int) or not (
            1 <= target_capacity <= 2_000_000_000):
        raise UsageError(f"target_capacity={target_capacity!r} is not valid",
                         suggestion="give a whole number of instances ≥ 1")
    types = check_types(instance_types, strict=kit.backend.kind == "sandbox")
    names = check_regions(kit, regions)
    empty = pd.DataFrame(columns=COLUMNS)
    if kit.backend.kind == "sandbox":
        empty.attrs["note"] = SANDBOX_NOTE
        return empty
    params: dict[str, Any] = {"InstanceTypes": types, "TargetCapacity": target_capacity,
              "SingleAvailabilityZone": single_az}
    if names != "all":
        params["RegionNames"] = list(names)
    try:
        raw = kit.records("ec2", "get_spot_placement_scores", kit.backend.default_region,
                          **params)
    except AwsCallError as exc:
        empty.attrs["note"] = (f"placement scores: AWS refused GetSpotPlacementScores "
                               f"[{exc.error_code}]; ranked without them ({exc.suggestion})")
        log.warning("%s", empty.attrs["note"])
        return empty
    out = pd.DataFrame({
        "region": raw.get("Region"), "availability_zone": pd.NA,
        "availability_zone_id": raw.get("AvailabilityZoneId", pd.NA),
        "placement_score": pd.to_numeric(raw.get("Score", pd.Series(dtype=float))),
    })
    if single_az and len(out):
        zones = kit.fanout("ec2", "describe_availability_zones", sorted(set(out["region"])),
                           desc="AZ names")
        names_by_id = dict(zip(zones.get("ZoneId", []), zones.get("ZoneName", []),
                               strict=False))
        out["availability_zone"] = out["availability_zone_id"].map(names_by_id)
    out.attrs["note"] = f"placement scores for {target_capacity} × {', '.join(types)}"
    return out[COLUMNS]
