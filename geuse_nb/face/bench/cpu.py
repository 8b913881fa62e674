"""Scenario 10: the client's CPU, per call, inside fan-outs, and on a timestamp-heavy page.

Everything at RTT 0, where the client's own work is all there is. CPU is this process's
``process_time`` (user + system, every thread: the kit's write-behind writer included;
the sandbox runs in a child process and does not count).

- *per call*: ``n`` uncached ``kit.call`` (``refresh=True``: validated, sent, compacted,
  stored in memory and, written behind, on disk, recorded) and ``n`` calls of a bare
  boto3 client, alternated call by call, then an idle pause in which the background
  writer finishes (target ≤ 1.10×). The kit is charged its calls' thread CPU plus all
  the process spent on other threads in the round (the writer, the resource sampler):
  the process time it adds. Rounds of ``n`` calls then a pause, timed one contender at
  a time, spread ±20 % here and one run gave 1.12× where the next gave 1.34×; calls
  alternated one by one meet the same machine (``_core.interleaved_calls``), and the
  ratio is the median of the rounds' own ratios. Every call has a key of its own
  (``zone_filter``: a filter that matches every zone, numbered; the bare client sends
  the same): the writer commits only the latest write of a key in a batch, so one key
  called ``n`` times would hide its cost;
- *inside a fan-out*: ``kit.fanout`` of 4 operations × 16 regions at 16 and at 64
  workers, cache emptied before each (untimed) and flushed inside the timed run, against
  a plain ``ThreadPoolExecutor`` of 16 and of 64 over shared clients (target ≤ 1.15× at
  64), and the kit's wall at 64 workers over its wall at 16 ("does not grow", judged as
  below);
- *a timestamp-heavy page*: one 860-row DescribeSpotPriceHistory page (7 days of
  m5.large in us-east-1) through ``kit.call`` against a bare boto3 client, whose botocore
  parses each timestamp with dateutil (target ≤ 0.50×; the rows are checked equal).

Every ratio is the median of the rounds' own ratios (``_core.paired``).

*Does not grow*, judged. At RTT 0 a fan-out's wall is the sandbox's CPU (one process,
~1.7 ms of moto a request, serialised by its GIL) plus the kit's serial start and end,
and neither depends on the worker count: measured on this VM, the kit's 64 / 16 read
0.94-1.08 over 15 runs of 15 rounds (mean ~0.99), and a plain pool's own 64 / 16
read 0.97-1.06 over the same runs. A median against ``≤ 1`` is a coin flip between
equal walls, for the kit and for a hand-written pool alike. So the fan-outs run
``FANOUT_ROUNDS_FACTOR`` × the rounds (120 by default), and the kit's 64 / 16 is judged
on the upper end of the median's distribution-free 90 % interval
(``_core.median_interval``): ≤ 1.05, the issue's own tolerance for "equal" (its
``n_jobs=16`` target). The kit of the issue, 178 → 196 ms (1.10), fails it; a wall equal
at 16 and 64 meets it. The median and the plain pool's own 64 / 16 are printed beside it.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from ._core import (
    Context,
    Ratio,
    Scenario,
    ScenarioResult,
    alternate,
    interleaved_calls,
    median_interval,
    paired,
    register,
    round_ratios,
)
from .fanout import Hand, jobs_of, shape

SPOT_TYPE, SPOT_REGION, SPOT_DAYS = "m5.large", "us-east-1", 7
# CPU time of one round spreads ±20 % on this VM (the bare contender's own rounds:
# interquartile 0.81-1.21 of their median), so ratios judged at 10-15 % need more rounds
# than the suite's default: 3 × --rounds (15 by default), medians as everywhere.
ROUNDS_FACTOR = 3
# The four fan-outs (~0.15 s each) run 8 × as many rounds again, 120 by default: one
# fan-out's wall spreads ±20 % here and a round's 64 / 16 from 0.74 to 1.54. The 90 %
# interval of the median was 0.944-1.049 over 30 rounds and 0.967-1.046 over 60 (medians
# 0.99 and 1.02): too close to the limit for a verdict that holds from run to run.
# The fan-out CPU / pool(64) ratio, paired over 15 rounds, read 1.07-1.16 by run (a
# target of 1.15); over 120 rounds it read 1.10 and 1.10.
FANOUT_ROUNDS_FACTOR = 24
GROWTH_CONFIDENCE, GROWTH_LIMIT = 0.90, 1.05


@register
class ClientCpu(Scenario):
    key, number, title = "cpu", "10", "Client CPU: per call, inside fan-outs, a spot page"

    def run(self, ctx: Context) -> ScenarioResult:
        import boto3

        ctx.uniform(0.0)
        kit = ctx.kit("cpu")
        hands: list[Hand] = []
        try:
            region = ctx.box.regions[0]
            session = boto3.Session(**kit.backend.session_kwargs())
            bare = session.client("ec2", region_name=region,
                                  endpoint_url=ctx.box.endpoint_url(region),
                                  config=kit.pool.botocore_config())
            spot_bare = session.client("ec2", region_name=SPOT_REGION,
                                       endpoint_url=ctx.box.endpoint_url(SPOT_REGION))
            n, idle = (40, 0.2) if ctx.quick else (200, 1.0)

            numbers = itertools.count()

            def kit_call() -> None:
                kit.call("ec2", "describe_availability_zones", region, refresh=True,
                         Filters=zone_filter(next(numbers)))

            def bare_call() -> None:
                bare.describe_availability_zones(Filters=zone_filter(next(numbers)))

            operations, regions = shape(ctx)
            jobs = jobs_of(operations, regions)
            hands = [Hand(kit, regions, w) for w in (16, 64)]

            def kit_fanout(workers: int) -> Any:
                def run() -> None:
                    frame = kit.fanout("ec2", operations, regions, n_jobs=workers)
                    kit.cache.flush()  # the disk writes of this run, inside its CPU
                    assert not frame.attrs["failed"], frame.attrs["failed"]
                return run

            end = dt.datetime.now(dt.UTC)
            spot: dict[str, Any] = {"InstanceTypes": [SPOT_TYPE], "MaxResults": 1000,
                    "StartTime": end - dt.timedelta(days=SPOT_DAYS), "EndTime": end}
            rows_equal = _same_rows(kit.call("ec2", "describe_spot_price_history",
                                             SPOT_REGION, refresh=True, **spot),
                                    spot_bare.describe_spot_price_history(**spot))
            kit_call()  # the clients, their connections
            bare_call()
            rounds = ctx.rounds * (1 if ctx.quick else ROUNDS_FACTOR)
            fanout_rounds = ctx.rounds * (1 if ctx.quick else FANOUT_ROUNDS_FACTOR)
            per_call = interleaved_calls(
                kit_call, bare_call, n, rounds, idle=idle,
                names=("kit.call uncached ×n + idle", "bare call ×n + idle"),
                notes=(f"refresh=True; {n} calls, {idle:g} s idle; + every other thread's "
                       "CPU (the writer's)", f"plain boto3 client, {n} calls, alternated"))
            contenders = {
                "pool(16) fan-out": lambda: hands[0].expert(jobs),
                "kit fan-out, 16 workers": kit_fanout(16),
                "pool(64) fan-out": lambda: hands[1].expert(jobs),
                "kit fan-out, 64 workers": kit_fanout(64),
                "bare spot page": lambda: spot_bare.describe_spot_price_history(**spot),
                "kit spot page": lambda: kit.call("ec2", "describe_spot_price_history",
                                                  SPOT_REGION, refresh=True, **spot),
            }
            for fn in contenders.values():
                fn()  # clients, connections, pools, the sandbox's markets
            measures = per_call[::-1] + alternate(
                contenders, fanout_rounds,
                before={"kit fan-out, 16 workers": kit.cache.clear,
                        "kit fan-out, 64 workers": kit.cache.clear},
                rounds_of={"bare spot page": rounds, "kit spot page": rounds},
                notes={"kit spot page": f"{SPOT_DAYS} days of {SPOT_TYPE}, {SPOT_REGION}"},
                mirrored=True)
            bare.close()
            spot_bare.close()
        finally:
            for hand in hands:
                hand.close()
            ctx.uniform()
        m = {x.contender: x for x in measures}
        cpu = {k: v.cpu_median for k, v in m.items()}
        calls = len(jobs)
        growth = round_ratios(m["kit fan-out, 64 workers"], m["kit fan-out, 16 workers"])
        low, high = median_interval(growth, GROWTH_CONFIDENCE)
        return self.result(
            params={"rtt_s": 0.0, "calls_per_round": n, "idle_s": idle,
                    "fanout_calls": calls, "spot_rows": rows_equal},
            measures=measures,
            ratios=[
                Ratio("kit.call / bare call, CPU",
                      paired(m["kit.call uncached ×n + idle"], m["bare call ×n + idle"],
                             cpu=True),
                      "<=", 1.10, "process time, the background writer included; "
                      "median of per-round ratios"),
                Ratio("kit fan-out / pool, CPU, 64 workers",
                      paired(m["kit fan-out, 64 workers"], m["pool(64) fan-out"], cpu=True),
                      "<=", 1.15),
                Ratio("kit fan-out / pool, CPU, 16 workers",
                      paired(m["kit fan-out, 16 workers"], m["pool(16) fan-out"], cpu=True)),
                Ratio("kit fan-out wall, 64 / 16 workers",
                      paired(m["kit fan-out, 64 workers"], m["kit fan-out, 16 workers"]),
                      note=f"median of {len(growth)} rounds; 90 % interval "
                      f"{low:.3f}-{high:.3f}"),
                Ratio("kit fan-out wall, 64 / 16, upper 90 % bound", high, "<=",
                      GROWTH_LIMIT, "does not grow with workers: the median's 90 % "
                      "interval ends at most 5 % above equal"),
                Ratio("pool fan-out wall, 64 / 16 workers",
                      paired(m["pool(64) fan-out"], m["pool(16) fan-out"]),
                      note="a hand-written pool's own, for comparison"),
                Ratio("kit spot page / bare, CPU",
                      paired(m["kit spot page"], m["bare spot page"], cpu=True),
                      "<=", 0.50, f"{rows_equal} rows, equal to boto3's")],
            figures={
                "kit_cpu_per_call_us": cpu["kit.call uncached ×n + idle"] / n * 1e6,
                "bare_cpu_per_call_us": cpu["bare call ×n + idle"] / n * 1e6,
                "kit_fanout_cpu_per_call_us_64": cpu["kit fan-out, 64 workers"] / calls * 1e6,
                "pool_fanout_cpu_per_call_us_64": cpu["pool(64) fan-out"] / calls * 1e6,
                "kit_fanout_cpu_per_call_us_16": cpu["kit fan-out, 16 workers"] / calls * 1e6,
                "pool_fanout_cpu_per_call_us_16": cpu["pool(16) fan-out"] / calls * 1e6,
                "kit_spot_page_cpu_ms": cpu["kit spot page"] * 1e3,
                "bare_spot_page_cpu_ms": cpu["bare spot page"] * 1e3})


def zone_filter(i: int) -> list[dict[str, Any]]:
    """A DescribeAvailabilityZones filter that keeps every zone (state ``available``, or
    a state no zone has) and differs for each ``i``: a request, and a cache key, of its own
    with the unfiltered answer."""
    return [{"Name": "state", "Values": ["available", f"none-{i}"]}]


def _same_rows(ours: dict[str, Any], theirs: dict[str, Any]) -> int:
    """The number of rows, after checking the kit's page equals boto3's (same instants)."""
    a, b = ours["SpotPriceHistory"], theirs["SpotPriceHistory"]
    if len(a) != len(b) or any(x != y for x, y in zip(a, b, strict=True)):
        raise AssertionError("the kit's spot price rows differ from boto3's")
    return len(a)
