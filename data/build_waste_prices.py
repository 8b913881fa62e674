"""Build data/waste_prices.csv: what idle EBS volumes and Elastic IPs cost per month, per region.

Standard library only. Inputs: AWS's published us-east-1 list prices (the constants below,
from https://aws.amazon.com/ebs/pricing/ and https://aws.amazon.com/vpc/pricing/, public
IPv4 addresses) and this folder's spot_market.csv (the SkyPilot catalog's on-demand
prices). A region's EBS prices = the us-east-1 price × the region's m5.large on-demand
price / us-east-1's: EBS list prices differ by region in about the same proportion as
on-demand compute (e.g. gp3 0.08 in us-east-1, 0.088 in eu-west-1: 1.10; m5.large 0.096
vs 0.107: 1.11). A public IPv4 address costs the same everywhere. See data/README.md.

    .venv/bin/python data/build_waste_prices.py        # --market PATH, --out PATH
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASE_REGION = "us-east-1"
REFERENCE_TYPE = "m5.large"
HOURS_PER_MONTH = 730  # AWS's billing month
EBS_GIB_MONTH = {  # USD per GiB-month in us-east-1 (aws.amazon.com/ebs/pricing)
    "gp3": 0.08, "gp2": 0.10, "io1": 0.125, "io2": 0.125, "st1": 0.045, "sc1": 0.015,
    "standard": 0.05,
}
PUBLIC_IPV4_HOUR = 0.005  # USD per hour per public IPv4 address, idle or not (since 2024-02)
REGIONS = ("us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1",
           "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "ap-south-1",
           "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "ap-northeast-2",
           "ap-northeast-3", "sa-east-1")  # the sandbox's 17


def _short(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def build(market: Path, out: Path) -> int:
    ondemand: dict[str, float] = {}
    with market.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["instance_type"] == REFERENCE_TYPE:
                ondemand[row["region"]] = float(row["ondemand_linux"])
    base = ondemand[BASE_REGION]
    rows = 0
    with out.open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["region", "factor", "basis",
                         *(f"ebs_{t}_gib_month" for t in EBS_GIB_MONTH), "eip_month"])
        for region in REGIONS:
            known = region in ondemand
            factor = ondemand[region] / base if known else 1.0
            basis = f"{REFERENCE_TYPE} on-demand ratio" if known else "no catalog row: us-east-1"
            writer.writerow([region, _short(factor), basis,
                             *(_short(p * factor) for p in EBS_GIB_MONTH.values()),
                             _short(PUBLIC_IPV4_HOUR * HOURS_PER_MONTH)])
            rows += 1
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--market", type=Path, default=HERE / "spot_market.csv")
    parser.add_argument("--out", type=Path, default=HERE / "waste_prices.csv")
    args = parser.parse_args()
    print(f"wrote {build(args.market, args.out)} rows to {args.out}")


if __name__ == "__main__":
    main()
