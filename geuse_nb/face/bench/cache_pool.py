"""Cache and pool scenarios: 5 (hit latency by tier) and 6 (client acquisition, connection
reuse, latency through the pool), with the bash suite's figures as reference rows.

The bash suite claimed "cached lookups in ~50 ms" and, measured, took 2.5 ms from memory
and 10 ms from disk (every lookup started processes); it claimed 70 % connection reuse
and 40 % lower latency from its pooling. Those rows are references, not runs: the ratios
put the kit's measured figures against them.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ._core import Context, Measure, Ratio, Scenario, ScenarioResult, register

BASH_CLAIMED_S = 0.050
BASH_MEMORY_S = 0.0025
BASH_DISK_S = 0.010
BASH_REUSE = 0.70
BASH_LATENCY_CUT = 0.40


def per_call(contenders: Mapping[str, Callable[[], Any]], rounds: int, n: int, *,
             before: Mapping[str, Callable[[], Any]] | None = None,
             notes: Mapping[str, str] | None = None) -> list[Measure]:
    """Each round, each contender in turn: ``n`` calls timed one by one (``before`` untimed
    ahead of each); the round's sample is their median (per-call seconds)."""
    before = before or {}
    out = {name: Measure(name, [], note=(notes or {}).get(name, "")) for name in contenders}
    perf = time.perf_counter
    for _ in range(rounds):
        for name, fn in contenders.items():
            prep = before.get(name)
            samples = []
            for _ in range(n):
                if prep is not None:
                    prep()
                start = perf()
                fn()
                samples.append(perf() - start)
            out[name].seconds.append(statistics.median(samples))
    return list(out.values())


@register
class Cache(Scenario):
    key, number, title = "cache", "5", "Cache: hit latency by tier vs the bash suite"

    def run(self, ctx: Context) -> ScenarioResult:
        ctx.uniform()
        kit = ctx.kit("cache")
        args = ("ec2", "describe_availability_zones", ctx.box.regions[0])
        kit.call(*args)
        measures = per_call(
            {"kit.call, memory hit": lambda: kit.call(*args),
             "kit.call, disk hit": lambda: kit.call(*args)},
            ctx.rounds, 50 if ctx.quick else 300,
            before={"kit.call, disk hit": lambda: kit.cache.clear("memory")},
            notes={"kit.call, memory hit": "median per call of each round",
                   "kit.call, disk hit": "memory tier emptied before each call"})
        memory, disk = (m.median for m in measures)
        references = [
            Measure("bash suite, claimed", [BASH_CLAIMED_S], note="'cached lookups in ~50 ms'",
                    reference=True),
            Measure("bash suite, memory (measured)", [BASH_MEMORY_S], reference=True),
            Measure("bash suite, disk (measured)", [BASH_DISK_S], reference=True)]
        return self.result(
            params={"call": ".".join(args[:2]), "rounds": ctx.rounds},
            measures=[*measures, *references],
            ratios=[Ratio("50 ms / memory hit", BASH_CLAIMED_S / memory, ">=", 500),
                    Ratio("50 ms / disk hit", BASH_CLAIMED_S / disk, ">=", 500),
                    Ratio("bash 2.5 ms / memory hit", BASH_MEMORY_S / memory),
                    Ratio("bash 10 ms / disk hit", BASH_DISK_S / disk)])


@register
class Pool(Scenario):
    key, number, title = "pool", "6", "Pool: acquisition, reuse, latency vs a new client"

    def run(self, ctx: Context) -> ScenarioResult:
        import boto3

        ctx.uniform()
        kit = ctx.kit("pool")
        box = ctx.box
        regions = list(box.regions[:4])
        kwargs = kit.backend.session_kwargs()
        home = regions[0]

        def new_client(region: str) -> Any:
            return boto3.client("ec2", region_name=region, endpoint_url=box.endpoint_url(region),
                                aws_access_key_id=kwargs["aws_access_key_id"],
                                aws_secret_access_key=kwargs["aws_secret_access_key"])

        def call_new() -> None:
            client = new_client(home)
            client.describe_availability_zones()
            client.close()

        for region in regions:
            kit.client("ec2", region).describe_availability_zones()  # one connection each
        acquire = per_call({"pooled kit.client()": lambda: kit.client("ec2", home),
                            "new boto3.client()": lambda: new_client(home).close()},
                           ctx.rounds, 5 if ctx.quick else 15)
        latency = per_call(
            {"call through the pool": lambda: kit.client("ec2", home)
             .describe_availability_zones(), "new client per call": call_new},
            ctx.rounds, 3 if ctx.quick else 10,
            notes={"new client per call": "creation + handshake (2 × RTT) + call"})
        reuse = self._reuse(ctx, kit, regions)
        pooled_acq, new_acq = (m.median for m in acquire)
        pooled_lat, new_lat = (m.median for m in latency)
        return self.result(
            params={"regions": len(regions), "threads": ctx.workers, "rtt_s": ctx.rtt,
                    "reuse_requests": reuse["requests"]},
            measures=[*acquire, *latency],
            ratios=[Ratio("new client / pooled acquisition", new_acq / pooled_acq),
                    Ratio("connection reuse through the pool", reuse["reuse"], ">=", 0.95,
                          f"bash suite claimed {BASH_REUSE:.0%}; {reuse['connections']:.0f} "
                          f"new connections for {reuse['requests']:.0f} requests"),
                    Ratio("latency cut vs a new client per call", 1 - pooled_lat / new_lat,
                          ">=", BASH_LATENCY_CUT, "the bash suite claimed −40 %")],
            figures=reuse)

    @staticmethod
    def _reuse(ctx: Context, kit: Any, regions: list[str]) -> dict[str, float]:
        """``workers`` threads calling every region through the pool: requests and new
        connections counted by the sandbox."""
        box = ctx.box
        per_region = 2 if ctx.quick else 16
        requests0, connections0 = box.requests(), box.connections()
        barrier = threading.Barrier(ctx.workers)

        def worker(_: int) -> None:
            barrier.wait()
            for _ in range(per_region):
                for region in regions:
                    kit.client("ec2", region).describe_availability_zones()

        with ThreadPoolExecutor(ctx.workers) as threads:
            list(threads.map(worker, range(ctx.workers)))
        requests = box.requests() - requests0
        connections = box.connections() - connections0
        return {"requests": float(requests), "connections": float(connections),
                "reuse": 1 - connections / requests if requests else float("nan")}
