"""Scenario 7: what the kit costs per call, in CPU and in wall, at RTT 0.

An uncached ``kit.call`` (``refresh=True``: validated, keyed, sent through the pooled
client with its recording hooks, compacted and stored in both cache tiers, recorded; the
kit's progress front end on) against a bare boto3 client's call of the same operation,
alternated in batches. RTT 0 puts the client's own work in front: any network time would
hide the overhead. CPU is this process's ``process_time`` (the sandbox runs in a child).
A third contender, the same call on a kit without the disk tier, shows what persisting
the answer costs: most of the kit's extra CPU is the disk tier's sqlite write. Each call
has a key of its own (``cpu.zone_filter``; the bare client sends the same filters).
"""

from __future__ import annotations

import itertools

from ._core import Context, Ratio, Scenario, ScenarioResult, alternate, batched, paired, register
from .cpu import zone_filter


@register
class Overhead(Scenario):
    key, number, title = "overhead", "7", "Overhead: uncached kit.call vs a bare client, RTT 0"

    def run(self, ctx: Context) -> ScenarioResult:
        import boto3

        ctx.uniform(0.0)
        try:
            kit = ctx.kit("overhead", progress_quiet=False)
            memory_only = ctx.kit("overhead-mem", progress_quiet=False,
                                  cache_disk_enabled=False)
            region = ctx.box.regions[0]
            bare = boto3.Session(**kit.backend.session_kwargs()).client(
                "ec2", region_name=region, endpoint_url=ctx.box.endpoint_url(region),
                config=kit.pool.botocore_config())
            n = 20 if ctx.quick else 100
            numbers = itertools.count()
            contenders = {
                "bare client call": batched(lambda: bare.describe_availability_zones(
                    Filters=zone_filter(next(numbers))), n),
                "kit.call uncached": batched(lambda: kit.call(
                    "ec2", "describe_availability_zones", region, refresh=True,
                    Filters=zone_filter(next(numbers))), n),
                "kit.call uncached, no disk tier": batched(lambda: memory_only.call(
                    "ec2", "describe_availability_zones", region, refresh=True,
                    Filters=zone_filter(next(numbers))), n)}
            for fn in contenders.values():
                fn()  # clients, connections, the cache's disk tier
            measures = alternate(contenders, ctx.rounds + (1 if ctx.quick else 4), notes={
                "bare client call": f"plain boto3 client, batches of {n}",
                "kit.call uncached": "refresh=True; recording and progress on",
                "kit.call uncached, no disk tier": "the same, cache_disk_enabled=False"})
            bare.close()
        finally:
            ctx.uniform()
        for m in measures:  # per call
            m.seconds = [s / n for s in m.seconds]
            m.cpu = [s / n for s in m.cpu]
        plain, kit_m, no_disk = measures
        return self.result(
            params={"rtt_s": 0.0, "batch": n, "rounds": len(plain.seconds)},
            measures=measures,
            ratios=[Ratio("kit / bare − 1, CPU", paired(kit_m, plain, cpu=True) - 1, "<=", 0.05,
                          "median of per-round ratios"),
                    Ratio("kit / bare − 1, wall", paired(kit_m, plain) - 1, "<=", 0.05),
                    Ratio("no disk tier: kit / bare − 1, CPU",
                          paired(no_disk, plain, cpu=True) - 1,
                          note="the rest is the disk tier's store (sqlite)"),
                    Ratio("no disk tier: kit / bare − 1, wall", paired(no_disk, plain) - 1)],
            figures={"overhead_cpu_us": (kit_m.cpu_median - plain.cpu_median) * 1e6,
                     "overhead_wall_us": (kit_m.median - plain.median) * 1e6})
