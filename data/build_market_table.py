"""Derive data/spot_market.csv from the public reference data in ../shared/data.

Run from the repo root: ``python data/build_market_table.py [--shared /path/to/shared/data]``.
Reads (never copies) ``spot-advisor-data.json`` and ``ec2-ondemand-2023-01-06/Linux/*.csv``;
see data/README.md for where every column comes from.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SHARED = HERE.parents[1] / "shared" / "data"
OUT = HERE / "spot_market.csv"

REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1",
    "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "ap-south-1", "ap-southeast-1",
    "ap-southeast-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "sa-east-1",
)
FAMILIES = ("g4dn", "g5", "g6", "p3", "m5", "m6i", "m7i", "c5", "c6i", "c7i", "r5", "r6i", "t3")

# us-east-1 Linux on-demand USD/hour from AWS's public price list (aws.amazon.com/ec2/pricing/
# on-demand), used only where ec2-ondemand-2023-01-06 has no row. The general-purpose families
# are priced linearly per vCPU on AWS, so they are given as a per-vCPU rate.
PER_VCPU_RATE = {"m5": 0.048, "m6i": 0.048, "m7i": 0.0504, "c5": 0.0425, "c6i": 0.0425,
                 "c7i": 0.044625, "r5": 0.063, "r6i": 0.063}
GPU_PRICES = {
    "g4dn.xlarge": 0.526, "g4dn.2xlarge": 0.752, "g4dn.4xlarge": 1.204, "g4dn.8xlarge": 2.176,
    "g4dn.12xlarge": 3.912, "g4dn.16xlarge": 4.352,
    "g5.xlarge": 1.006, "g5.2xlarge": 1.212, "g5.4xlarge": 1.624, "g5.8xlarge": 2.448,
    "g5.12xlarge": 5.672, "g5.16xlarge": 4.096, "g5.24xlarge": 8.144, "g5.48xlarge": 16.288,
    "g6.xlarge": 0.8048, "g6.2xlarge": 0.9776, "g6.4xlarge": 1.3232, "g6.8xlarge": 2.0144,
    "g6.12xlarge": 4.6016, "g6.16xlarge": 3.3968, "g6.24xlarge": 6.6752, "g6.48xlarge": 13.3504,
    "p3.2xlarge": 3.06, "p3.8xlarge": 12.24, "p3.16xlarge": 24.48,
}
# GPUs per instance: not in the reference data; from AWS's public instance-type pages.
GPUS = {
    "g4dn.xlarge": 1, "g4dn.2xlarge": 1, "g4dn.4xlarge": 1, "g4dn.8xlarge": 1,
    "g4dn.12xlarge": 4, "g4dn.16xlarge": 1,
    "g5.xlarge": 1, "g5.2xlarge": 1, "g5.4xlarge": 1, "g5.8xlarge": 1, "g5.12xlarge": 4,
    "g5.16xlarge": 1, "g5.24xlarge": 4, "g5.48xlarge": 8,
    "g6.xlarge": 1, "g6.2xlarge": 1, "g6.4xlarge": 1, "g6.8xlarge": 1, "g6.12xlarge": 4,
    "g6.16xlarge": 1, "g6.24xlarge": 4, "g6.48xlarge": 8,
    "p3.2xlarge": 1, "p3.8xlarge": 4, "p3.16xlarge": 8,
}
COLUMNS = ("region", "instance_type", "vcpu", "memory_gib", "gpus", "ondemand_linux",
           "savings_linux", "savings_windows", "interruption", "price_source")


def read_ondemand(folder: Path) -> dict[str, dict[str, float]]:
    """{region: {type: USD/h}} from the scraped Linux on-demand CSVs (first row per type wins)."""
    table: dict[str, dict[str, float]] = {}
    for path in sorted(folder.glob("*.csv")):
        prices: dict[str, float] = {}
        with path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                prices.setdefault(row["instance_type"], float(row["cost_per_hr"].lstrip("$")))
        table[path.stem] = prices
    return table


def region_ratios(ondemand: dict[str, dict[str, float]]) -> dict[str, float]:
    """Median price ratio region / us-east-1 over the types both CSVs list."""
    base = ondemand["us-east-1"]
    ratios = {}
    for region, prices in ondemand.items():
        shared = [prices[t] / base[t] for t in prices if t in base and base[t] > 0]
        if shared:
            ratios[region] = statistics.median(shared)
    return ratios


def build(shared: Path) -> list[dict[str, object]]:
    advisor = json.loads((shared / "spot-advisor-data.json").read_text())
    ondemand = read_ondemand(shared / "ec2-ondemand-2023-01-06" / "Linux")
    ratios = region_ratios(ondemand)
    specs = advisor["instance_types"]
    rows = []
    for region in REGIONS:
        linux = advisor["spot_advisor"].get(region, {}).get("Linux", {})
        windows = advisor["spot_advisor"].get(region, {}).get("Windows", {})
        for itype in sorted(linux):
            family, _, size = itype.partition(".")
            if family not in FAMILIES or "metal" in size or itype not in specs:
                continue
            spec = specs[itype]
            if itype in ondemand.get(region, {}):
                price, source = ondemand[region][itype], "ondemand-2023-01-06"
            else:
                base = ondemand["us-east-1"].get(itype) or GPU_PRICES.get(itype)
                if base is None and family in PER_VCPU_RATE:
                    base = PER_VCPU_RATE[family] * spec["cores"]
                if base is None:
                    continue
                if region == "us-east-1":
                    source = "aws-public-price-list"
                else:
                    base *= ratios.get(region, 1.0)
                    source = "us-east-1×region-ratio"
                price = base
            rows.append({
                "region": region, "instance_type": itype, "vcpu": spec["cores"],
                "memory_gib": spec["ram_gb"], "gpus": GPUS.get(itype, 0),
                "ondemand_linux": round(price, 5), "savings_linux": linux[itype]["s"],
                "savings_windows": windows.get(itype, linux[itype])["s"],
                "interruption": linux[itype]["r"], "price_source": source,
            })
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
