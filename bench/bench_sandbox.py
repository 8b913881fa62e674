"""Sandbox figures: start time, keep-alive vs new connections under an RTT, server overhead,
concurrency across regions, and the spot market. Medians of repeated runs, side by side.

    .venv/bin/python -m bench.bench_sandbox
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import botocore.config

from geuse_nb.sandbox import Sandbox

FAKE = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
RTT = 0.05
REPEATS = 3


def _client(box: Sandbox, region: str = "us-east-1", pool: int = 10) -> Any:
    cfg = botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 1},
                                 max_pool_connections=pool)
    return boto3.client("ec2", region, endpoint_url=box.endpoint_url(region), config=cfg, **FAKE)


def _median(fn: Callable[[], float], repeats: int = REPEATS) -> float:
    fn()  # warm-up
    return statistics.median(fn() for _ in range(repeats))


def main() -> dict[str, float]:
    """Measure, print a table, return the figures."""
    figures: dict[str, float] = {}
    starts = []
    for _ in range(2):
        began = time.perf_counter()
        box = Sandbox(seed=1, regions=["us-east-1"], rtt=0.0).start()
        starts.append(time.perf_counter() - began)
        box.stop()
    figures["start_s"] = statistics.median(starts)

    regions = ["us-east-1", "eu-west-1", "ap-northeast-1", "sa-east-1"]
    with Sandbox(seed=1, regions=regions, rtt=0.0) as box:
        ec2 = _client(box)

        def overhead() -> float:
            began = time.perf_counter()
            for _ in range(50):
                ec2.describe_regions()
            return (time.perf_counter() - began) / 50

        figures["call_ms_rtt0"] = 1000 * _median(overhead)
        box.reset_counters()
        one = _client(box)
        for _ in range(200):
            one.describe_regions()
        one.close()
        figures["connections_for_200_calls"] = box.connections("us-east-1")

        box.set_network(rtt=RTT)

        def keepalive() -> float:
            began = time.perf_counter()
            for _ in range(20):
                ec2.describe_regions()
            return time.perf_counter() - began

        def fresh() -> float:
            clients = [_client(box) for _ in range(20)]  # built outside the timed part
            began = time.perf_counter()
            for c in clients:
                c.describe_regions()
            took = time.perf_counter() - began
            for c in clients:
                c.close()
            return took

        figures["keepalive_20_calls_s"] = _median(keepalive)
        figures["new_conn_20_calls_s"] = _median(fresh)
        figures["keepalive_vs_20xRTT"] = figures["keepalive_20_calls_s"] / (20 * RTT)
        figures["new_conn_vs_keepalive"] = (figures["new_conn_20_calls_s"]
                                            / figures["keepalive_20_calls_s"])

        clients = {r: _client(box, r, pool=16) for r in regions}
        for c in clients.values():
            c.describe_regions()

        def concurrent() -> float:
            jobs = [r for r in regions for _ in range(16 * 4)]
            began = time.perf_counter()
            with ThreadPoolExecutor(16 * len(regions)) as pool:
                list(pool.map(lambda r: clients[r].describe_regions(), jobs))
            return time.perf_counter() - began

        box.set_network(rtt=RTT, handshake_factor=0.0)
        took = _median(concurrent, repeats=2)
        figures["parallel_64x4_calls_s"] = took
        figures["parallel_vs_serial_ideal"] = (len(regions) * 64 * RTT) / took

        box.set_network(rtt=0.0)
        now = dt.datetime.now(dt.UTC)

        def spot() -> float:
            began = time.perf_counter()
            pages = ec2.get_paginator("describe_spot_price_history").paginate(
                InstanceTypes=["g4dn.xlarge", "m5.large"], StartTime=now - dt.timedelta(days=7))
            figures["spot_records_7d"] = sum(len(p["SpotPriceHistory"]) for p in pages)
            return time.perf_counter() - began

        figures["spot_7d_2types_s"] = _median(spot)
        for c in [ec2, *clients.values()]:
            c.close()

    print(f"{'sandbox figure':<30} {'value':>10}")
    for name, value in figures.items():
        print(f"{name:<30} {value:>10.3f}")
    return figures


if __name__ == "__main__":
    main()
