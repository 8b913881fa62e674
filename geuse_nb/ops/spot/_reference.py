"""Reference tables: the Spot Advisor feed and on-demand prices, from a source or the project's.

``advisor()`` returns the feed in AWS's public JSON shape (``instance_types``, ``ranges``,
``spot_advisor[region][os][type] = {"s": savings %, "r": bucket index}``), the shape spotinfo
and the Spot Instance Advisor page read. With no source it is built from ``data/
spot_market.csv`` (whose savings and buckets come from that feed, see data/README.md), so the
runbook works offline; a path or URL gives a current one. A URL is kept on disk for 24 h
(AWS republishes the feed every few months, and it is ~1 MB), so a rerun does not fetch it.

``on_demand()`` likewise: a DataFrame ``region, instance_type, vcpus, memory_gib, gpus,
on_demand_price`` (Linux, USD/h) from the project's table, or from a SkyPilot-catalog-shaped
CSV (``InstanceType, vCPUs, MemoryGiB, AcceleratorCount, Price, Region``) or a CSV with these
columns, by path or URL.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import UsageError, did_you_mean

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

# The feed's buckets, as it publishes them (index, label, dots, max %).
RANGES: tuple[dict[str, Any], ...] = (
    {"index": 0, "label": "<5%", "dots": 0, "max": 5},
    {"index": 1, "label": "5-10%", "dots": 1, "max": 11},
    {"index": 2, "label": "10-15%", "dots": 2, "max": 16},
    {"index": 3, "label": "15-20%", "dots": 3, "max": 22},
    {"index": 4, "label": ">20%", "dots": 4, "max": 100},
)
INTERRUPTION_LABELS: tuple[str, ...] = tuple(r["label"] for r in RANGES)
OS_KEYS = ("Linux", "Windows")
URL_TTL = 24 * 3600.0  # seconds a fetched feed or table is reused
ON_DEMAND_COLUMNS = ("region", "instance_type", "vcpus", "memory_gib", "gpus",
                     "on_demand_price")


def os_key(product: str) -> str:
    """A product description → the feed's OS key: ``Linux/UNIX*`` → Linux, ``Windows*`` →
    Windows; UsageError for anything else."""
    text = str(product)
    if text.startswith("Linux/UNIX"):
        return "Linux"
    if text.startswith("Windows"):
        return "Windows"
    choices = ["Linux/UNIX", "Linux/UNIX (Amazon VPC)", "Windows", "Windows (Amazon VPC)"]
    raise UsageError(f"product {product!r} has no Spot Advisor OS{did_you_mean(text, choices)}",
                     suggestion=f"use one of {', '.join(choices)}")


def interruption_index(label: str) -> int:
    """``"10-15%"`` → 2; UsageError naming the five labels otherwise."""
    if label in INTERRUPTION_LABELS:
        return INTERRUPTION_LABELS.index(label)
    raise UsageError(f"unknown interruption label {label!r}"
                     f"{did_you_mean(str(label), INTERRUPTION_LABELS)}",
                     suggestion="use one of " + ", ".join(repr(x) for x in INTERRUPTION_LABELS))


# ---------------------------------------------------------------- the project's table
def _table_rows() -> list[dict[str, str]]:
    from ...sandbox.market import data_dir

    with (data_dir() / "spot_market.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def _read_text(source: str | Path) -> str:
    """A path's text, or a URL's (kept on disk for ``URL_TTL`` under the cache dir)."""
    text = str(source)
    if "://" not in text:
        path = Path(text).expanduser()
        if not path.is_file():
            raise UsageError(f"no file at {str(path)!r}",
                             suggestion="give an existing path or an http(s):// URL, or "
                                        "None for the project's table")
        return path.read_text()
    from ...config import resolve_settings

    folder = Path(resolve_settings().cache_dir) / "spot-reference"
    kept = folder / (hashlib.sha256(text.encode()).hexdigest()[:24] + ".txt")
    if kept.is_file() and time.time() - kept.stat().st_mtime < URL_TTL:
        return kept.read_text()
    try:
        with urllib.request.urlopen(text, timeout=30) as response:
            body = response.read().decode()
    except (OSError, ValueError) as exc:
        raise UsageError(f"could not read {text}: {exc}",
                         suggestion="check the URL, or pass a downloaded file's path, or "
                                    "None for the project's table") from exc
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    kept.write_text(body)
    return body


def advisor(source: str | Path | None = None) -> dict[str, Any]:
    """The Spot Advisor feed (public JSON shape) from ``source`` (path or URL), else built from
    the project's table (only the (region, type) pairs the feed had there)."""
    if source is not None:
        try:
            feed = json.loads(_read_text(source))
        except json.JSONDecodeError as exc:
            raise UsageError(f"{source} is not JSON: {exc}",
                             suggestion="give the Spot Advisor feed (spot-advisor-data.json)"
                             ) from exc
        missing = [k for k in ("instance_types", "ranges", "spot_advisor")
                   if not isinstance(feed, dict) or k not in feed]
        if missing:
            raise UsageError(f"{source} is not a Spot Advisor feed: no {', '.join(missing)}",
                             suggestion="give spot-advisor-data.json's shape: instance_types, "
                                        "ranges, spot_advisor[region][os][type] = {s, r}")
        return dict(feed)
    types: dict[str, Any] = {}
    regions: dict[str, Any] = {}
    for row in _table_rows():
        types.setdefault(row["instance_type"], {"emr": False, "cores": int(row["vcpu"]),
                                                "ram_gb": float(row["memory_gib"])})
        if row["interruption"] == "":
            continue
        by_os = regions.setdefault(row["region"], {"Linux": {}, "Windows": {}})
        r = int(row["interruption"])
        by_os["Linux"][row["instance_type"]] = {"s": int(row["savings_linux"]), "r": r}
        by_os["Windows"][row["instance_type"]] = {"s": int(row["savings_windows"]), "r": r}
    return {"instance_types": types, "ranges": [dict(r) for r in RANGES],
            "spot_advisor": regions, "global_rate": "<10%"}


def advisor_frame(feed: Mapping[str, Any], os: str = "Linux") -> pd.DataFrame:
    """One row per (region, instance_type) of the feed for ``os``: savings_pct, interruption
    (label) and interruption_index, with vcpus and memory_gib from ``instance_types``."""
    import pandas as pd

    ranges = {int(r["index"]): str(r["label"]) for r in feed.get("ranges", RANGES)}
    specs = feed.get("instance_types", {})
    rows = [(region, itype, float(v["s"]), int(v["r"]))
            for region, by_os in feed.get("spot_advisor", {}).items()
            for itype, v in by_os.get(os, {}).items()]
    frame = pd.DataFrame(rows, columns=["region", "instance_type", "advisor_savings_pct",
                                        "interruption_index"])
    frame["interruption"] = frame["interruption_index"].map(ranges)
    frame["advisor_vcpus"] = frame["instance_type"].map(
        {t: s.get("cores") for t, s in specs.items()}).astype("Float64")
    frame["advisor_memory_gib"] = frame["instance_type"].map(
        {t: s.get("ram_gb") for t, s in specs.items()}).astype("Float64")
    return frame


def on_demand(source: str | Path | None = None) -> pd.DataFrame:
    """On-demand Linux prices and sizes per (region, instance_type): ``region, instance_type,
    vcpus, memory_gib, gpus, on_demand_price`` (USD/h)."""
    import pandas as pd

    if source is None:
        frame = pd.DataFrame(_table_rows())
        frame = frame.rename(columns={"vcpu": "vcpus", "ondemand_linux": "on_demand_price"})
    else:
        frame = pd.read_csv(io.StringIO(_read_text(source)))
        if {"InstanceType", "Price", "Region"} <= set(frame.columns):  # SkyPilot's catalog
            frame = frame.rename(columns={
                "InstanceType": "instance_type", "Region": "region", "vCPUs": "vcpus",
                "MemoryGiB": "memory_gib", "AcceleratorCount": "gpus",
                "Price": "on_demand_price"})
            frame = frame.drop_duplicates(["region", "instance_type"])
        missing = [c for c in ON_DEMAND_COLUMNS if c not in frame.columns]
        if missing:
            raise UsageError(f"{source} has no column(s) {', '.join(missing)}",
                             suggestion="give SkyPilot's vms.csv shape or the columns "
                                        + ", ".join(ON_DEMAND_COLUMNS))
    out = frame[list(ON_DEMAND_COLUMNS)].copy()
    for column in ("vcpus", "memory_gib", "gpus", "on_demand_price"):
        out[column] = pd.to_numeric(out[column], errors="coerce")
    out["gpus"] = out["gpus"].fillna(0).astype("int64")
    out["vcpus"] = out["vcpus"].astype("Int64")
    return out.sort_values(["region", "instance_type"], ignore_index=True)


def known_types(feed: Mapping[str, Any] | None = None) -> set[str]:
    """Instance types the project's table or a feed lists."""
    names = {row["instance_type"] for row in _table_rows()}
    if feed is not None:
        names |= set(feed.get("instance_types", {}))
    return names
