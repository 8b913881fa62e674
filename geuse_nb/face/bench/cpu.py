"""Scenario 10: the client's CPU, per call, inside fan-outs, and on a timestamp-heavy page.

Everything at RTT 0, where the client's own work is all there is. CPU is this process's
``process_time`` (user + system, every thread: the kit's write-behind writer included;
the sandbox runs in a child process and does not count).

- *per call*: ``n`` uncached ``kit.call`` (``refresh=True``: validated, sent, compacted,
  stored in memory and, written behind, on disk, recorded) then an idle pause in which
  the background writer finishes, against ``n`` calls of a bare boto3 client and the
  same pause (target ≤ 1.10×). Every call has a key of its own (``zone_filter``: a
  filter that matches every zone, numbered; the bare client sends the same): the writer
  commits only the latest write of a key in a batch, so one key called ``n`` times
  would hide its cost;
- *inside a fan-out*: ``kit.fanout`` of 4 operations × 16 regions at 16 and at 64
  workers, cache emptied before each (untimed) and flushed inside the timed run, against
  a plain ``ThreadPoolExecutor`` of 16 and of 64 over shared clients (target ≤ 1.15× at
  64, and the kit's wall at 64 no higher than at 16);
- *a timestamp-heavy page*: one 860-row DescribeSpotPriceHistory page (7 days of
  m5.large in us-east-1) through ``kit.call`` against a bare boto3 client, whose botocore
  parses each timestamp with dateutil (target ≤ 0.50×; the rows are checked equal).
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from typing import Any

from ._core import Context, Ratio, Scenario, ScenarioResult, alternate, register
from .fanout import Hand, jobs_of, shape

SPOT_TYPE, SPOT_REGION, SPOT_DAYS = "m5.large", "us-east-1", 7
# CPU time of one round spreads ±20 % on this VM (the bare contender's own rounds:
# interquartile 0.81-1.21 of their median), so ratios judged at 10-15 % need more rounds
# than the suite's default: 3 × --rounds (15 by default), medians as everywhere.
ROUNDS_FACTOR = 3


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

            def kit_calls() -> None:
                for i in itertools.islice(numbers, n):
                    kit.call("ec2", "describe_availability_zones", region, refresh=True,
                             Filters=zone_filter(i))
                time.sleep(idle)  # the writer commits its last batch in here, counted

            def bare_calls() -> None:
                for i in itertools.islice(numbers, n):
                    bare.describe_availability_zones(Filters=zone_filter(i))
                time.sleep(idle)

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
            contenders = {
                "bare call ×n + idle": bare_calls,
                "kit.call uncached ×n + idle": kit_calls,
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
            measures = alternate(
                contenders, ctx.rounds * (1 if ctx.quick else ROUNDS_FACTOR),
                before={"kit fan-out, 16 workers": kit.cache.clear,
                        "kit fan-out, 64 workers": kit.cache.clear},
                notes={"kit.call uncached ×n + idle": f"refresh=True; {n} calls, {idle:g} s "
                       "idle (the writer's CPU counts)",
                       "bare call ×n + idle": f"plain boto3 client, {n} calls, {idle:g} s idle",
                       "kit spot page": f"{SPOT_DAYS} days of {SPOT_TYPE}, {SPOT_REGION}"})
            bare.close()
            spot_bare.close()
        finally:
            for hand in hands:
                hand.close()
            ctx.uniform()
        m = {x.contender: x for x in measures}
        cpu = {k: v.cpu_median for k, v in m.items()}
        calls = len(jobs)
        return self.result(
            params={"rtt_s": 0.0, "calls_per_round": n, "idle_s": idle,
                    "fanout_calls": calls, "spot_rows": rows_equal},
            measures=measures,
            ratios=[
                Ratio("kit.call / bare call, CPU",
                      cpu["kit.call uncached ×n + idle"] / cpu["bare call ×n + idle"],
                      "<=", 1.10, "process time, the background writer included"),
                Ratio("kit fan-out / pool, CPU, 64 workers",
                      cpu["kit fan-out, 64 workers"] / cpu["pool(64) fan-out"], "<=", 1.15),
                Ratio("kit fan-out / pool, CPU, 16 workers",
                      cpu["kit fan-out, 16 workers"] / cpu["pool(16) fan-out"]),
                Ratio("kit fan-out wall, 64 / 16 workers",
                      m["kit fan-out, 64 workers"].median / m["kit fan-out, 16 workers"].median,
                      "<=", 1.0, "does not grow with workers"),
                Ratio("kit spot page / bare, CPU", cpu["kit spot page"] / cpu["bare spot page"],
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
