"""The main job until the runbooks exist: a real session against the embedded sandbox.

``python -m geuse_nb.face.demo --out reports`` (what ``make demo`` runs) starts the
sandbox, reads regions and spot prices across regions in parallel (twice: the
second pass comes from the cache), runs a small dependent rollout, and saves the
performance report as HTML, Markdown and JSON.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import geuse_nb as gn
from geuse_nb.engine.results import JobResults

REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1",
           "ap-northeast-1", "sa-east-1", "ca-central-1"]
TYPES = ["g4dn.xlarge", "g5.xlarge", "m5.large", "c6i.large"]


def _spot_prices(kit: gn.Kit) -> object:
    now = datetime.now(UTC)
    return kit.fanout(
        "ec2", "describe_spot_price_history", REGIONS,
        desc="spot prices", InstanceTypes=TYPES, ProductDescriptions=["Linux/UNIX"],
        StartTime=(now - timedelta(days=1)).replace(minute=0, second=0, microsecond=0),
    )


def _rollout(kit: gn.Kit, stack: Callable[[str], str]) -> JobResults:
    """Validate once, then deploy to four regions side by side (a DAG of five jobs)."""
    return kit.jobs({
        "validate": lambda: kit.call("sts", "get_caller_identity")["Account"],
        **{f"deploy {r}": (lambda validate, r=r: stack(r), ["validate"]) for r in REGIONS[:4]},
    }, desc="rollout")


def run(out: Path) -> dict[str, object]:
    """Run the demo session; returns the figures it printed."""
    out.mkdir(parents=True, exist_ok=True)
    figures: dict[str, object] = {}
    with gn.Kit("demo", backend="sandbox", cache_dir=out / ".cache") as kit:
        kit.cache.clear("all")  # a rerun starts cold too, so the cache speed-up is real
        regions = kit.records("ec2", "describe_regions")
        print(f"sandbox up at {kit.backend.sandbox_url}: {len(regions)} regions")

        with kit.metrics.timer("spot prices, cold", "demo") as timed:
            prices = _spot_prices(kit)
        cold = timed.seconds or 0.0
        with kit.metrics.timer("spot prices, from cache", "demo") as timed:
            _spot_prices(kit)
        warm = timed.seconds or 0.0
        cheapest = (prices.astype({"SpotPrice": float})
                    .sort_values("SpotPrice").groupby("InstanceType").head(1))
        print(f"spot prices: {len(prices)} records from {len(REGIONS)} regions "
              f"in {cold:.2f} s; again from cache in {warm * 1000:.1f} ms "
              f"({cold / warm:.0f}x faster)")
        for row in cheapest.itertuples():
            print(f"  cheapest {row.InstanceType:<12} {row.SpotPrice:>8.4f} $/h "
                  f"in {row.AvailabilityZone}")
        figures.update(cold_s=cold, warm_s=warm, records=len(prices))

        def stack(region: str) -> str:
            name = f"geuse-demo-{region}"
            body = '{"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}'
            kit.call("cloudformation", "create_stack", region, StackName=name,
                     TemplateBody=body)
            return name

        with kit.metrics.timer("rollout to 4 regions", "demo"):
            rollout = _rollout(kit, stack)
        print(f"rollout: {sum(rollout.frame()['status'] == 'done')} of "
              f"{len(rollout)} jobs done")

        report = kit.report("geuse_nb demo: spot prices and a rollout in the sandbox")
        for suffix in ("html", "md", "json"):
            path = out / f"demo.{suffix}"
            report.save(path)
            print(f"report written: {path}")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m geuse_nb.face.demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("reports"),
                        help="folder for the reports (default: reports)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    run(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
