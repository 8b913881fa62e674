"""Parallel engine benchmark: wall time vs the ideal and the serial loop, and per-job
overhead vs a hand-written ThreadPoolExecutor, measured side by side in one run.

    .venv/bin/python -m bench.bench_parallel
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

RTT = 0.060
REGIONS = 16
CALLS = 64
WORKERS = 16
REPEATS = 3
TRIVIAL = 2000


def _median(fn: Callable[[], Any], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> dict[str, float]:
    """Run the benchmark, print a table, return the figures."""
    import geuse_nb as gn
    from geuse_nb.sandbox import Sandbox

    logging.getLogger("geuse_nb").setLevel(logging.ERROR)
    with Sandbox(seed=7, rtt=RTT) as box, gn.Kit(
            "bench", backend="sandbox", sandbox=box, progress_quiet=True) as kit:
        regions = box.regions[:REGIONS]
        work = [regions[i % len(regions)] for i in range(CALLS)]

        def call(region: str) -> int:
            return len(kit.client("ec2", region).describe_availability_zones()[
                "AvailabilityZones"])

        pmap = lambda: kit.pmap(call, work, n_jobs=WORKERS)  # noqa: E731
        with ThreadPoolExecutor(WORKERS) as pool:
            tpe = lambda: list(pool.map(call, work))  # noqa: E731
            pmap()  # warm: region back ends, clients, one keep-alive connection per worker
            tpe()
            one_call = _median(lambda: call(regions[0]), 9)
            ideal = math.ceil(CALLS / WORKERS) * one_call
            t_pmap = _median(pmap)
            t_tpe = _median(tpe)
            t_serial = _median(lambda: [call(r) for r in work], 1)

            items = list(range(TRIVIAL))
            noop = lambda x: x  # noqa: E731
            t_noop_tpe = _median(lambda: list(pool.map(noop, items)))
        t_noop_pmap = _median(lambda: kit.pmap(noop, items, n_jobs=WORKERS))
        t_noop_pmap_nt = _median(lambda: kit.pmap(noop, items, n_jobs=WORKERS, timeout=None))
        t_noop_pmap_small = _median(lambda: kit.pmap(noop, range(16), n_jobs=WORKERS), 9)

    figures = {
        "one_call_s": one_call, "ideal_s": ideal, "pmap_s": t_pmap,
        "threadpool_s": t_tpe, "serial_s": t_serial,
        "pmap_vs_ideal": t_pmap / ideal, "serial_vs_pmap": t_serial / t_pmap,
        "overhead_per_job_us": (t_noop_pmap - t_noop_tpe) / TRIVIAL * 1e6,
        "overhead_per_job_no_timeout_us": (t_noop_pmap_nt - t_noop_tpe) / TRIVIAL * 1e6,
        "overhead_per_job_io_us": (t_pmap - t_tpe) / CALLS * 1e6,
        "fixed_cost_per_map_ms": t_noop_pmap_small * 1e3,
    }
    print(f"parallel engine — {CALLS} calls over {REGIONS} regions, RTT {RTT * 1e3:.0f} ms, "
          f"{WORKERS} workers (medians of {REPEATS})")
    rows = [
        ("one call (warm)", f"{one_call * 1e3:8.1f} ms", ""),
        ("ideal ceil(64/16) × call", f"{ideal * 1e3:8.1f} ms", ""),
        ("kit.pmap", f"{t_pmap * 1e3:8.1f} ms", f"{t_pmap / ideal:5.2f} × ideal (≤ 1.25)"),
        ("ThreadPoolExecutor", f"{t_tpe * 1e3:8.1f} ms", f"{t_tpe / ideal:5.2f} × ideal"),
        ("serial loop", f"{t_serial * 1e3:8.1f} ms",
         f"{t_serial / t_pmap:5.1f} × slower than pmap (≥ 10)"),
        (f"per-job overhead, {TRIVIAL} no-op jobs", f"{figures['overhead_per_job_us']:8.1f} µs",
         "vs ThreadPoolExecutor (≤ 100)"),
        ("  same, timeout=None", f"{figures['overhead_per_job_no_timeout_us']:8.1f} µs", ""),
        ("  same, on the 64 AWS calls", f"{figures['overhead_per_job_io_us']:8.1f} µs", ""),
        ("fixed cost of a 16-job no-op map", f"{figures['fixed_cost_per_map_ms']:8.1f} ms",
         "(thread pool start/stop)"),
    ]
    for name, value, note in rows:
        print(f"  {name:<38}{value:>14}  {note}")
    return figures


if __name__ == "__main__":
    main()
