"""Account scenarios: 11 (a fan-out over accounts vs the same calls in one account) and
11b (100 accounts × 17 regions, 1,700 calls: wall, peak RSS, ratio to the limit).

11 compares two cold fan-outs of equal shape, each on a fresh kit (empty cache, no
credentials): *one account*, ``kit.fanout("ec2", 2 ops, 4 regions, param_sets=16 sets)``
(16 distinct filters, so 128 distinct calls), and *16 accounts*, the same 2 ops × 4
regions in each of 16 member accounts (``accounts=ids``), which also pays 16 AssumeRoles.
The target, ≤ 1.25×, says that an account costs its one AssumeRole and nothing per call.

11b runs ``sns.list_topics`` in every (account, region) of 100 accounts × the sandbox's 17
regions with 64 in flight. Not an ec2 operation: moto builds each (account, region)'s EC2
backend with its default VPC, subnets and groups on first use, ~78 ms of the sandbox's
CPU each (6.2 s for 80 here), which would measure the emulator, not the kit; SNS's
costs ~4 ms. One untimed run first makes those backends. The limit is the larger of the
network bound (⌈calls / in flight⌉ × RTT + one handshake) and the CPU bound (a bare
boto3 call's client CPU × calls, one core).
"""

from __future__ import annotations

import math
import os
import resource
import time
from typing import Any

from ._core import Context, Measure, Ratio, Scenario, ScenarioResult, alternate, register

OPERATIONS = ["describe_vpcs", "describe_security_groups"]
SCALE_OPERATION = ("sns", "list_topics")
IN_FLIGHT = 64


def member_accounts(ctx: Context, count: int) -> list[str]:
    """``count`` member accounts of the sandbox's organization (made once, then reused)."""
    made = ctx.box.create_accounts([f"bench-{i:03d}" for i in range(count)])
    return [m["account_id"] for m in made]


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _sandbox_rss_mib(ctx: Context) -> float:
    try:
        import psutil

        pid = ctx.box.pid
        return psutil.Process(pid).memory_info().rss / 2**20 if pid else math.nan
    except Exception:  # a joined sandbox may be another user's process
        return math.nan


@register
class Accounts(Scenario):
    key, number, title = "accounts", "11", "Accounts: 16 accounts vs the same calls in one"

    def run(self, ctx: Context) -> ScenarioResult:
        ctx.uniform()
        count, regions = (4, list(ctx.box.regions[:2])) if ctx.quick else (
            16, list(ctx.box.regions[:4]))
        ids = member_accounts(ctx, count)
        sets = [{"Filters": [{"Name": "tag:bench", "Values": [str(i)]}]} for i in range(count)]
        kits: dict[str, Any] = {}

        def fresh(name: str) -> None:
            kits[name] = ctx.kit(f"accounts-{name}")

        def fanout(name: str, **how: Any) -> None:
            frame = kits[name].fanout("ec2", OPERATIONS, regions, **how)
            assert not frame.attrs["failed"], frame.attrs["failed"][:2]

        fresh("warm")
        kits["warm"].fanout("ec2", OPERATIONS, regions, accounts=ids)  # moto's backends
        measures = alternate(
            {"one account": lambda: fanout("one", param_sets=sets),
             f"{count} accounts": lambda: fanout("many", accounts=ids)},
            2 if ctx.quick else ctx.rounds,
            before={"one account": lambda: fresh("one"),
                    f"{count} accounts": lambda: fresh("many")},
            notes={"one account": f"{len(OPERATIONS) * len(regions) * count} calls, "
                                  f"{count} filters, fresh kit",
                   f"{count} accounts": f"the same calls, one account each, "
                                        f"{count} AssumeRoles, fresh kit"})
        one, many = measures
        return self.result(
            params={"accounts": count, "regions": len(regions), "operations": len(OPERATIONS),
                    "calls": len(OPERATIONS) * len(regions) * count, "rtt_s": ctx.rtt},
            measures=measures,
            ratios=[Ratio(f"{count} accounts / one account", many.median / one.median,
                          op="<=", target=1.25,
                          note="an account costs one AssumeRole, nothing per call")])


@register
class AccountsScale(Scenario):
    key, number, title = ("accounts_scale", "11b",
                          "Accounts at scale: 100 accounts × 17 regions, 1 operation")

    def run(self, ctx: Context) -> ScenarioResult:
        import boto3

        ctx.uniform()
        count, regions = (10, list(ctx.box.regions[:4])) if ctx.quick else (
            100, list(ctx.box.regions))
        service, operation = SCALE_OPERATION
        ids = member_accounts(ctx, count)
        warm = ctx.kit("scale-warm")
        warm.fanout(service, operation, regions, accounts=ids, n_jobs=IN_FLIGHT)
        calls = count * len(regions)
        # the CPU bound: a bare boto3 client's CPU per call, serial, on warm connections
        probe = boto3.Session(**warm.backend.session_kwargs()).client(
            service, region_name=regions[0], endpoint_url=ctx.box.endpoint_url(regions[0]))
        getattr(probe, operation)()
        start_cpu = time.process_time()
        for _ in range(32):
            getattr(probe, operation)()
        cpu_per_call = (time.process_time() - start_cpu) / 32
        kit = ctx.kit("scale")
        rss_before = _peak_rss_mib()
        start, start_cpu = time.perf_counter(), time.process_time()
        frame = kit.fanout(service, operation, regions, accounts=ids, n_jobs=IN_FLIGHT)
        wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        failed = frame.attrs["failed"]
        assert not failed, failed[:2]
        network = math.ceil(calls / IN_FLIGHT) * ctx.rtt + 2 * ctx.rtt
        cpu_bound = cpu_per_call * calls
        bound = max(network, cpu_bound)
        kit_m = Measure("kit cold", [wall], [cpu], note=f"{calls} calls, {IN_FLIGHT} in flight, "
                        f"{count} AssumeRoles, fresh kit")
        reference = [
            Measure("network bound", [network], note="ceil(calls/in flight) × RTT + one "
                    "handshake (2 × RTT)", reference=True),
            Measure("CPU bound", [cpu_bound], note="bare boto3 CPU per call × calls, 1 core",
                    reference=True)]
        return self.result(
            params={"accounts": count, "regions": len(regions), "calls": calls,
                    "operation": f"{service}.{operation}", "in_flight": IN_FLIGHT,
                    "rtt_s": ctx.rtt, "cores": os.cpu_count()},
            measures=[kit_m, *reference],
            ratios=[Ratio("kit cold / limit", wall / bound, note="limit = the larger bound: "
                          + ("network" if network >= cpu_bound else "CPU"))],
            figures={"wall_s": wall, "client_cpu_s": cpu, "peak_rss_mib": _peak_rss_mib(),
                     "peak_rss_growth_mib": _peak_rss_mib() - rss_before,
                     "sandbox_rss_mib": _sandbox_rss_mib(ctx),
                     "client_cpu_per_call_ms": cpu / calls * 1e3})
