"""Scenario 7: what the kit costs per call, in CPU and in wall, at RTT 0.

An uncached ``kit.call`` (``refresh=True``: validated, keyed, sent through the pooled
client with its recording hooks, compacted and stored in both cache tiers, recorded; the
kit's progress front end on) against a bare boto3 client's call of the same operation.
RTT 0 puts the client's own work in front: any network time would hide the overhead.
The sandbox runs in a child process and does not count. Each call has a key of its own
(``cpu.zone_filter``; the bare client sends the same filters).

The calls alternate one by one (``_core.interleaved_calls``, as scenario 10's per-call
CPU): batches of 100 calls alternated batch by batch spread so much here (one run's nine
per-round wall ratios read 0.71-1.29, the next run's 0.86-1.52, medians +8 % and -3 %)
that a 5 % target was decided by the drift between batches. A round's wall is the sum of
its calls' own walls; work the kit leaves to its background threads (the writer) slows
whichever call runs beside it, the bare one as often as the kit's, so its CPU, not its
wall, is where that work is charged: the kit's CPU is its calls' thread time plus every
other thread's in the round (judged against ≤ 1.10 in scenario 10; here informative).

A third contender, the same call on a kit without the disk tier, shows what persisting
the answer costs (its own alternation with the bare client).
"""

from __future__ import annotations

import itertools

from ._core import Context, Ratio, Scenario, ScenarioResult, interleaved_calls, paired, register
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
            rounds = ctx.rounds + (1 if ctx.quick else 4)
            numbers = itertools.count()

            def bare_call() -> None:
                bare.describe_availability_zones(Filters=zone_filter(next(numbers)))

            def kit_call() -> None:
                kit.call("ec2", "describe_availability_zones", region, refresh=True,
                         Filters=zone_filter(next(numbers)))

            def memory_call() -> None:
                memory_only.call("ec2", "describe_availability_zones", region,
                                 refresh=True, Filters=zone_filter(next(numbers)))

            for fn in (bare_call, kit_call, memory_call):
                fn()  # clients, connections, the cache's disk tier
            kit_m, plain = interleaved_calls(
                kit_call, bare_call, n, rounds,
                names=("kit.call uncached", "bare client call"),
                notes=("refresh=True; recording and progress on; + every other thread's CPU",
                       f"plain boto3 client, {n} calls a round, alternated"))
            no_disk, plain_b = interleaved_calls(
                memory_call, bare_call, n, rounds,
                names=("kit.call uncached, no disk tier", "bare client call (vs no disk)"),
                notes=("the same, cache_disk_enabled=False", "the same bare client"))
            bare.close()
        finally:
            ctx.uniform()
        measures = [plain, kit_m, no_disk, plain_b]
        for m in measures:  # per call
            m.seconds = [s / n for s in m.seconds]
            m.cpu = [s / n for s in m.cpu]
        return self.result(
            params={"rtt_s": 0.0, "calls_per_round": n, "rounds": len(plain.seconds)},
            measures=measures,
            ratios=[Ratio("kit / bare − 1, wall", paired(kit_m, plain) - 1, "<=", 0.05,
                          "median of per-round ratios; calls alternated one by one"),
                    Ratio("kit / bare − 1, CPU", paired(kit_m, plain, cpu=True) - 1,
                          note="every other thread's CPU charged to the kit; judged ≤ 1.10× "
                               "in scenario 10"),
                    Ratio("no disk tier: kit / bare − 1, wall", paired(no_disk, plain_b) - 1),
                    Ratio("no disk tier: kit / bare − 1, CPU",
                          paired(no_disk, plain_b, cpu=True) - 1,
                          note="the rest is the disk tier's store (sqlite)")],
            figures={"overhead_cpu_us": (kit_m.cpu_median - plain.cpu_median) * 1e6,
                     "overhead_wall_us": (kit_m.median - plain.median) * 1e6})
