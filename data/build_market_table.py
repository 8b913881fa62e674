"""Derive data/spot_market.csv from the public reference data in ../shared/data.

Run from the repo root: ``python data/build_market_table.py [--shared /path/to/shared/data]``.
Reads (never copies) ``aws-vms-catalog-subset.csv`` (SkyPilot's AWS catalog: on-demand price,
vCPUs, memory, GPUs and a per-AZ spot price, AZs named by id) and ``spot-advisor-data.json``
(savings and interruption buckets); see data/README.md for where every column comes from.
Standard library only, so it runs anywhere the data is.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SHARED = HERE.parents[1] / "shared" / "data"
OUT = HERE / "spot_market.csv"
CATALOG = "aws-vms-catalog-subset.csv"
ADVISOR = "spot-advisor-data.json"
CATALOG_COMMIT = "00148f2"  # skypilot-org/skypilot-catalog commit the subset was read at
PRICE_SOURCE = f"skypilot-catalog-v8@{CATALOG_COMMIT}"

# The sandbox's default regions (geuse_nb/sandbox/regions.py); the catalog has no sa-east-1.
REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1",
    "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "ap-south-1", "ap-southeast-1",
    "ap-southeast-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "sa-east-1",
)
COLUMNS = ("region", "instance_type", "vcpu", "memory_gib", "gpus", "ondemand_linux",
           "savings_linux", "savings_windows", "interruption", "spot_by_az", "price_source")


def _is_local_zone(zone_id: str) -> bool:
    """``usw2-lax1-az1`` (a Local Zone) vs ``usw2-az1``: the sandbox serves no Local Zones."""
    return zone_id.count("-") > 1


def _number(text: str) -> str:
    """``4.0`` → ``4``, ``0.200000`` → ``0.2``: the shortest exact spelling of a figure."""
    value = float(text)
    return str(int(value)) if value.is_integer() else repr(value)


def build(shared: Path) -> list[dict[str, object]]:
    """One row per (region, instance type) the catalog lists in a sandbox region."""
    advisor = json.loads((shared / ADVISOR).read_text())["spot_advisor"]
    rows: dict[tuple[str, str], dict[str, object]] = {}
    zones: dict[tuple[str, str], list[str]] = {}
    with (shared / CATALOG).open(newline="") as fh:
        for rec in csv.DictReader(fh):
            region, itype, zone = rec["Region"], rec["InstanceType"], rec["AvailabilityZone"]
            if region not in REGIONS:
                continue
            row = rows.get((region, itype))
            if row is None:
                linux = advisor.get(region, {}).get("Linux", {}).get(itype)
                windows = advisor.get(region, {}).get("Windows", {}).get(itype) or linux
                row = rows[(region, itype)] = {
                    "region": region, "instance_type": itype,
                    "vcpu": _number(rec["vCPUs"]), "memory_gib": _number(rec["MemoryGiB"]),
                    "gpus": _number(rec["AcceleratorCount"] or "0"),
                    "ondemand_linux": _number(rec["Price"]),
                    "savings_linux": linux["s"] if linux else "",
                    "savings_windows": windows["s"] if windows else "",
                    "interruption": linux["r"] if linux else "",
                    "price_source": PRICE_SOURCE,
                }
                zones[(region, itype)] = []
            elif _number(rec["Price"]) != row["ondemand_linux"]:  # the catalog says it never is
                raise ValueError(f"{region} {itype}: on-demand price differs between AZs")
            if rec["SpotPrice"] and not _is_local_zone(zone):
                zones[(region, itype)].append(f"{zone}:{_number(rec['SpotPrice'])}")
    return [{**rows[key], "spot_by_az": " ".join(sorted(zones[key]))} for key in sorted(rows)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    rows = build(args.shared)
    with args.out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {args.out}")  # a script's output, not diagnostics
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
