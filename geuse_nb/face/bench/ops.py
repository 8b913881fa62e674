"""Runbook scenarios: 3 (spot selection) and 4 (rollout), each against the way the bash
suite did the same job.

3. ``spot.history`` for 3 GPU types × 16 regions × 7 days, cold (``refresh=True``) and
   warm (the cache), against the bash suite's method: list each region's AZs, then one
   latest-price request per (AZ, type), one after another (here with one boto3 client per
   region, which flatters it: the bash suite started an ``aws`` process per request).
4. ``rollout.run`` of one stack to 16 regions whose stacks take 3 s to provision, one
   region at a time vs ``max_concurrent=8`` in soft mode (the logic of
   ``bench/bench_rollout.py``): the regions' CloudFormation back ends and the template's
   validation are warmed by an untimed dry run and deploy first.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from typing import TYPE_CHECKING, Any

from ._core import Context, Measure, Ratio, Scenario, ScenarioResult, alternate, register
from .fanout import regions_of

if TYPE_CHECKING:
    from ...kit import Kit

GPU_TYPES = ("g4dn.xlarge", "g5.xlarge", "g6.xlarge")


def bash_spot_method(kit: Kit, types: list[str], regions: list[str]) -> int:
    """The bash suite's way: AZs per region, then one latest-price request per (AZ, type),
    serial. Returns the number of requests."""
    now = dt.datetime.now(dt.UTC)
    requests = 0
    for region in regions:
        client = kit.client("ec2", region)  # reused: kinder than a process per request
        zones = client.describe_availability_zones()["AvailabilityZones"]
        requests += 1
        for zone in zones:
            for instance_type in types:
                client.describe_spot_price_history(
                    InstanceTypes=[instance_type], AvailabilityZone=zone["ZoneName"],
                    ProductDescriptions=["Linux/UNIX"], StartTime=now, MaxResults=1)
                requests += 1
    return requests


@register
class Spot(Scenario):
    key, number, title = "spot", "3", "Spot selection: 3 GPU types × 16 regions × 7 days"

    def run(self, ctx: Context) -> ScenarioResult:
        from ...ops import spot

        ctx.uniform()
        regions = regions_of(ctx)
        types = list(GPU_TYPES)
        kit = ctx.kit("spot")
        spot.history(kit, types, regions, days=7)  # clients, connections, sandbox markets
        counted: list[int] = []
        measures = alternate(
            {"bash method": lambda: counted.append(bash_spot_method(kit, types, regions)),
             "kit cold": lambda: spot.history(kit, types, regions, days=7, refresh=True),
             "kit warm": lambda: spot.history(kit, types, regions, days=7)},
            2 if ctx.quick else 3, rounds_of={"bash method": 1 if ctx.quick else 2},
            notes={"bash method": "latest price per (AZ, type), serial, client per region",
                   "kit cold": "spot.history(refresh=True): one fan-out, 7 days",
                   "kit warm": "spot.history: the same call, from the cache"})
        m = {x.contender: x.median for x in measures}
        return self.result(
            params={"types": types, "regions": len(regions), "days": 7, "rtt_s": ctx.rtt,
                    "bash_requests": counted[0] if counted else 0},
            measures=measures,
            ratios=[Ratio("bash method / kit warm", m["bash method"] / m["kit warm"], ">=", 20),
                    Ratio("bash method / kit cold", m["bash method"] / m["kit cold"],
                          note="the kit also fetches 7 days, not the latest price")])


@register
class Rollout(Scenario):
    key, number, title = "rollout", "4", "Rollout: 16 regions with provisioning time"

    def run(self, ctx: Context) -> ScenarioResult:
        from ...ops import rollout

        ctx.uniform()
        n, provision, concurrent = (3, 0.2, 3) if ctx.quick else (16, 3.0, 8)
        regions = list(ctx.box.regions[:n])
        template = rollout.template_path()
        tag = uuid.uuid4().hex[:6]
        kit = ctx.kit("rollout")
        warm = rollout.plan(regions, max_concurrent=n, mode="soft")
        rollout.run(kit, warm, template, stack_name=f"warm-{tag}")  # validation, clients
        rollout.run(kit, warm, template, stack_name=f"warm-{tag}", apply=True)  # back ends
        ctx.box.set_stacks(provision_seconds=provision)
        plans = {"one region at a time": rollout.plan(regions, max_concurrent=1, mode="soft"),
                 f"run, max_concurrent {concurrent}":
                     rollout.plan(regions, max_concurrent=concurrent, mode="soft")}
        results: dict[str, Any] = {}
        stacks = iter(range(1000))

        def deploy(name: str) -> None:
            got = rollout.run(kit, plans[name], template, apply=True,
                              stack_name=f"bench-{tag}-{next(stacks)}")
            assert got.counts == {"done": n}, got.frame()
            results[name] = got

        try:
            runs = {name: functools.partial(deploy, name) for name in plans}
            measures = alternate(runs, 1,
                                 notes={name: f"soft mode, stacks {provision:g} s"
                                        for name in plans})
        finally:
            ctx.box.set_stacks()
        serial, parallel = (m.median for m in measures)
        ideal = -(-n // concurrent) * provision
        return self.result(
            params={"regions": n, "provision_s": provision, "max_concurrent": concurrent,
                    "rtt_s": ctx.rtt},
            measures=[*measures, Measure("ideal", [ideal], note="ceil(regions / concurrent) "
                                         "× provisioning", reference=True)],
            ratios=[Ratio("one at a time / max_concurrent", serial / parallel, ">=", 5),
                    Ratio("max_concurrent / ideal", parallel / ideal)])
