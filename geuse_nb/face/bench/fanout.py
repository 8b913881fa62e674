"""Fan-out scenarios: 1 (vs what users write), 1b (distance-based RTT), 2 (the physical
limit) and 8 (scale).

The contenders, all at the same number of workers where they have workers:

- *naive*: a new ``boto3.client`` per call, serial: what a notebook often holds;
- *serial*: one client per region, reused, serial;
- *expert*: a reused ``ThreadPoolExecutor`` over shared clients, jobs in the order
  written (operation by operation, region by region: FIFO);
- *kit cold*: ``kit.fanout("ec2", [op, …], regions)`` with the cache emptied before each
  run (clients and connections pooled, as the expert's are); *kit warm*: the same call
  answered from the cache.

Before timing, the pooled contenders run until the sandbox's connection counter stops
growing for two rounds: one new connection costs a 2 × RTT handshake in the sandbox's
network model, and keep-alive connections are what a notebook has after its first cell.

Scenario 1's pooled contenders run ``POOLED_ROUNDS_FACTOR`` × the rounds (15 by default;
the serial ones stay at 3), and its kit / expert ratios are the median of each round's
own ratio (``_core.paired``). The kit at the expert's 16 workers is within a few percent
of it, judged at ≤ 1.05: the ratio of two 5-round medians read 0.99-1.09 over six runs of
one head (met in 4), while 15 rounds of one run gave per-round ratios whose median was
1.026, its 90 % interval 1.009-1.050 (``_core.median_interval``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ...errors import UsageError
from ._core import (
    Context,
    Measure,
    Ratio,
    Scenario,
    ScenarioResult,
    alternate,
    paired,
    register,
)

if TYPE_CHECKING:
    from ...kit import Kit

OPERATIONS = ("describe_availability_zones", "describe_vpcs", "describe_subnets",
              "describe_security_groups")
POOLED_ROUNDS_FACTOR = 3  # scenario 1: pooled contenders' rounds per --rounds
MORE_OPERATIONS = (  # scenario 8's 256 calls: 16 operations × 16 regions
    *OPERATIONS, "describe_instances", "describe_key_pairs", "describe_volumes",
    "describe_addresses", "describe_internet_gateways", "describe_route_tables",
    "describe_network_acls",
    "describe_network_interfaces", "describe_nat_gateways", "describe_dhcp_options",
    "describe_vpc_endpoints", "describe_customer_gateways")


def regions_of(ctx: Context) -> list[str]:
    """The sandbox regions a scenario spreads over: 16 in a full run, 4 with ``--quick``."""
    return list(ctx.box.regions[:4 if ctx.quick else 16])


def shape(ctx: Context) -> tuple[list[str], list[str]]:
    """(operations, regions): 4 × 16 in a full run, 2 × 4 with ``--quick``."""
    return list(OPERATIONS[:2 if ctx.quick else 4]), regions_of(ctx)


class Hand:
    """What users write instead of the kit: clients from one ``boto3.Session``, one per
    region, and a reused ``ThreadPoolExecutor`` of ``workers`` threads."""

    def __init__(self, kit: Kit, regions: Sequence[str], workers: int) -> None:
        import boto3
        from botocore.config import Config

        self.box = kit.sandbox
        assert self.box is not None
        self.kwargs = kit.backend.session_kwargs()
        session = boto3.Session(**self.kwargs)
        config = Config(max_pool_connections=max(10, workers))
        self.clients = {r: session.client("ec2", region_name=r, config=config,
                                          endpoint_url=self.box.endpoint_url(r))
                        for r in regions}
        self.pool = ThreadPoolExecutor(workers)

    def one(self, job: tuple[str, str]) -> Any:
        operation, region = job
        return getattr(self.clients[region], operation)()

    def expert(self, jobs: Sequence[tuple[str, str]]) -> list[Any]:
        return list(self.pool.map(self.one, jobs))

    def serial(self, jobs: Sequence[tuple[str, str]]) -> list[Any]:
        return [self.one(job) for job in jobs]

    def naive(self, jobs: Sequence[tuple[str, str]]) -> list[Any]:
        import boto3

        assert self.box is not None
        out = []
        for operation, region in jobs:
            client = boto3.client("ec2", region_name=region,
                                  endpoint_url=self.box.endpoint_url(region),
                                  aws_access_key_id=self.kwargs["aws_access_key_id"],
                                  aws_secret_access_key=self.kwargs["aws_secret_access_key"])
            out.append(getattr(client, operation)())
            client.close()
        return out

    def close(self) -> None:
        self.pool.shutdown()
        for client in self.clients.values():
            client.close()


def jobs_of(operations: Sequence[str], regions: Sequence[str]) -> list[tuple[str, str]]:
    """The calls in the order a user writes them: operation by operation, region by region."""
    return [(op, region) for op in operations for region in regions]


def settle(ctx: Context, runs: Sequence[Callable[[], Any]]) -> int:
    """Run ``runs`` until two rounds open no new connection (at most 2 with --quick, 8)."""
    rounds = quiet = 0
    while rounds < (2 if ctx.quick else 8) and quiet < 2:
        rounds += 1
        before = ctx.box.connections()
        for run in runs:
            run()
        quiet = quiet + 1 if ctx.box.connections() == before else 0
    return rounds


def cleared(kit: Kit, run: Callable[[], None]) -> None:
    """``run`` after emptying the kit's cache (a cold fan-out, untimed clear)."""
    kit.cache.clear()
    run()


def kit_fanout(kit: Kit, operations: Sequence[str], regions: Sequence[str],
               workers: int | None, **params: Any) -> Callable[[], None]:
    """A fan-out at ``workers`` (None: the kit's default, every request at once up to its
    per-endpoint and global caps)."""
    def run() -> None:
        frame = kit.fanout("ec2", list(operations), list(regions), n_jobs=workers, **params)
        assert not frame.attrs["failed"], frame.attrs["failed"]
    return run


@dataclasses.dataclass
class Rig:
    """What the fan-out scenarios share: the shape, the calls in written order, a kit, the
    hand-written contenders over the same regions, and the kit's cold fan-out."""

    operations: list[str]
    regions: list[str]
    jobs: list[tuple[str, str]]
    kit: Kit
    hand: Hand
    cold: Callable[[], None]  # the kit's default sizing
    equal: Callable[[], None]  # the kit at the expert's worker count

    def clear(self) -> None:
        self.kit.cache.clear()


@contextlib.contextmanager
def rig(ctx: Context, name: str) -> Iterator[Rig]:
    """A :class:`Rig` for a scenario named ``name``; the hand-written pool closes after."""
    operations, regions = shape(ctx)
    kit = ctx.kit(name)
    hand = Hand(kit, regions, ctx.workers)
    try:
        yield Rig(operations, regions, jobs_of(operations, regions), kit, hand,
                  kit_fanout(kit, operations, regions, None),
                  kit_fanout(kit, operations, regions, ctx.workers))
    finally:
        hand.close()


@register
class Fanout(Scenario):
    key, number, title = "fanout", "1", "Fan-out: 4 describe operations × 16 regions"

    def run(self, ctx: Context) -> ScenarioResult:
        ctx.uniform()
        with rig(ctx, "fanout") as r:
            operations, regions, jobs, hand = r.operations, r.regions, r.jobs, r.hand
            warmed = settle(ctx, [lambda: hand.expert(jobs), lambda: hand.serial(jobs[:len(
                regions)]), lambda: cleared(r.kit, r.cold), lambda: cleared(r.kit, r.equal)])
            measures = alternate(
                {"naive": lambda: hand.naive(jobs), "serial": lambda: hand.serial(jobs),
                 "expert": lambda: hand.expert(jobs), "kit cold": r.cold,
                 f"kit cold, n_jobs={ctx.workers}": r.equal, "kit warm": r.cold},
                ctx.rounds * (1 if ctx.quick else POOLED_ROUNDS_FACTOR),
                before={"kit cold": r.clear, f"kit cold, n_jobs={ctx.workers}": r.clear},
                rounds_of={"naive": 1 if ctx.quick else 3, "serial": 1 if ctx.quick else 3},
                notes={"naive": "new boto3.client per call, serial",
                       "serial": "one client per region, serial",
                       "expert": f"reused ThreadPoolExecutor({ctx.workers}), shared clients",
                       "kit cold": "kit.fanout(ec2, [ops], regions), default sizing, "
                                   "cache emptied",
                       f"kit cold, n_jobs={ctx.workers}": "the same at the expert's workers",
                       "kit warm": "the same call, answered from the cache"})
        m = {x.contender: x.median for x in measures}
        by = {x.contender: x for x in measures}
        return self.result(
            params={"operations": operations, "regions": len(regions), "calls": len(jobs),
                    "workers": ctx.workers, "rtt_s": ctx.rtt, "warm_up_rounds": warmed},
            measures=measures,
            ratios=[Ratio("naive / kit cold", m["naive"] / m["kit cold"], ">=", 10),
                    Ratio("kit cold / expert", paired(by["kit cold"], by["expert"]), "<=",
                          0.80, "the kit's default sizing, uniform RTT; median of "
                          "per-round ratios"),
                    Ratio(f"kit cold n_jobs={ctx.workers} / expert",
                          paired(by[f"kit cold, n_jobs={ctx.workers}"], by["expert"]),
                          "<=", 1.05, "equal workers, uniform RTT; median of per-round "
                          "ratios"),
                    Ratio("naive / kit warm", m["naive"] / m["kit warm"], ">=", 100),
                    Ratio("serial / kit cold", m["serial"] / m["kit cold"]),
                    Ratio("expert / kit warm", m["expert"] / m["kit warm"])])


@register
class FanoutFar(Scenario):
    key, number, title = "fanout_far", "1b", "Beyond the expert: distance-based RTT"

    def run(self, ctx: Context) -> ScenarioResult:
        from ...sandbox.regions import resolve_rtts

        rtts = resolve_rtts(ctx.box.regions, ctx.box.home_region, None)
        ctx.box.set_network(rtt=rtts)
        try:  # a fresh kit: its latency history is this network's
            with rig(ctx, "fanout-far") as r:
                operations, regions, jobs, hand = r.operations, r.regions, r.jobs, r.hand
                warmed = settle(ctx, [lambda: hand.expert(jobs),
                                      lambda: cleared(r.kit, r.cold)])
                measures = alternate(
                    {"expert FIFO": lambda: hand.expert(jobs), "kit cold": r.cold},
                    ctx.rounds, before={"kit cold": r.clear},
                    notes={"expert FIFO": "reused ThreadPoolExecutor, jobs in written order",
                           "kit cold": "kit.fanout, default sizing, slowest regions first "
                                       "from its history"})
        finally:
            ctx.uniform()
        m = {x.contender: x.median for x in measures}
        far = [rtts[r] for r in regions]
        return self.result(
            params={"operations": operations, "regions": len(regions), "calls": len(jobs),
                    "workers": ctx.workers, "rtt_min_s": min(far), "rtt_max_s": max(far),
                    "warm_up_rounds": warmed},
            measures=measures,
            ratios=[Ratio("kit cold / expert FIFO", m["kit cold"] / m["expert FIFO"], "<=",
                          0.60, "after the kit has seen each region")],
            figures={"rtt_mean_s": sum(far) / len(far)})


@register
class Limit(Scenario):
    key, number, title = "limit", "2", "The physical limit of this machine"

    def run(self, ctx: Context) -> ScenarioResult:
        import os

        ctx.uniform()
        with rig(ctx, "limit") as r:
            jobs, hand = r.jobs, r.hand
            settle(ctx, [lambda: hand.expert(jobs), lambda: cleared(r.kit, r.cold)])
            measures = alternate(
                {"bare client, serial": lambda: hand.serial(jobs), "kit cold": r.cold},
                ctx.rounds if not ctx.quick else 2,
                before={"kit cold": r.clear},
                notes={"bare client, serial": "botocore CPU per call probe",
                       "kit cold": "kit.fanout, default sizing, cache emptied"})
        from ...aws.fanout import in_flight

        bare, kit_m = measures
        cpu_per_call = bare.cpu_median / len(jobs)
        at_once = in_flight((("ec2", region) for _, region in jobs), r.kit.settings)
        network = math.ceil(len(jobs) / at_once) * ctx.rtt + 2 * ctx.rtt
        cpu_bound = cpu_per_call * len(jobs) / 1  # one GIL: the client's CPU uses one core
        bound = max(network, cpu_bound)
        reference = [
            Measure("network bound", [network], note=f"ceil(calls/{at_once} in flight) × RTT "
                    "+ one handshake (2 × RTT)", reference=True),
            Measure("CPU bound", [cpu_bound], note="bare botocore CPU per call × calls, "
                    "1 core (GIL)", reference=True)]
        return self.result(
            params={"calls": len(jobs), "in_flight": at_once, "rtt_s": ctx.rtt,
                    "cores": os.cpu_count()},
            measures=[kit_m, bare, *reference],
            ratios=[Ratio("kit cold / limit", kit_m.median / bound, "<=", 1.5,
                          "default sizing; limit = the larger bound: "
                          + ("network" if network >= cpu_bound else "CPU")),
                    Ratio("kit client CPU / bare CPU", kit_m.cpu_median / bare.cpu_median)],
            figures={"client_cpu_per_call_ms": cpu_per_call * 1e3,
                     "network_bound_s": network, "cpu_bound_s": cpu_bound})


@register
class Scale(Scenario):
    key, number, title = "scale", "8", "Scale: 4 to 256 calls at equal workers"

    def run(self, ctx: Context) -> ScenarioResult:
        import numpy as np

        ctx.uniform()
        regions = list(ctx.box.regions[:16])
        wanted = ctx.scale or ([4, 16, 64] if ctx.quick else [4, 16, 64, 256])
        # calls → (operations, regions): up to 16 regions, then more operations
        sizes = {n: (math.ceil(n / 16), min(n, 16)) for n in sorted(set(wanted))}
        sizes = {ops * r: (ops, r) for ops, r in sizes.values()}
        if len(sizes) < 2:  # before any request: a fit needs two points
            raise UsageError(f"the scale scenario needs two call counts or more, not {wanted}",
                             suggestion="pass e.g. scale=[4, 16, 64]")
        kit = ctx.kit("scale")
        runs = {f"{n} calls": kit_fanout(kit, MORE_OPERATIONS[:ops], regions[:r], ctx.workers,
                                         refresh=True) for n, (ops, r) in sizes.items()}
        settle(ctx, list(runs.values()))
        measures = alternate(runs, ctx.rounds)
        calls = np.array(list(sizes), dtype=float)
        waves = np.ceil(calls / ctx.workers)
        wall = np.array([m.median for m in measures])
        slope, intercept = np.polyfit(waves, wall, 1)
        fitted = slope * waves + intercept
        r2 = 1 - float(((wall - fitted) ** 2).sum()) / float(((wall - wall.mean()) ** 2).sum()
                                                              or 1.0)
        per_call = float(np.polyfit(calls, wall, 1)[0])
        return self.result(
            params={"workers": ctx.workers, "rtt_s": ctx.rtt, "calls": list(sizes)},
            measures=measures,
            ratios=[*self._same_wave(sizes, wall, ctx.workers),
                    Ratio("R² of wall ~ ceil(calls/workers)", r2, ">=", 0.9),
                    Ratio("fitted slope per wave / RTT", slope / ctx.rtt if ctx.rtt else
                          math.nan, note=f"{slope * 1e3:.0f} ms per wave of {ctx.workers}")],
            figures={"slope_s_per_wave": float(slope), "intercept_s": float(intercept),
                     "slope_s_per_call": per_call, "r2_waves": r2},
            plot={"kind": "scale", "calls": calls.tolist(), "waves": waves.tolist(),
                  "wall": wall.tolist(), "low": [m.low for m in measures],
                  "high": [m.high for m in measures], "slope": float(slope),
                  "intercept": float(intercept)})

    @staticmethod
    def _same_wave(sizes: dict[int, tuple[int, int]], wall: Any, workers: int) -> list[Ratio]:
        """Wall of the largest count that fits in one wave over the smallest: calls grow,
        waves do not (judged ≤ 1.5)."""
        counts = list(sizes)
        one_wave = [i for i, n in enumerate(counts) if n <= workers]
        if len(one_wave) < 2:
            return []
        lo, hi = one_wave[0], one_wave[-1]
        return [Ratio(f"wall {counts[hi]} calls / wall {counts[lo]} calls",
                      float(wall[hi] / wall[lo]), "<=", 1.5,
                      f"{counts[hi] / counts[lo]:.0f}× the calls, the same one wave")]
