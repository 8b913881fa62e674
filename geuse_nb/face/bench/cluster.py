"""Scenario 9: the fan-out's ``pmap`` on a local ``distributed`` cluster of processes vs
threads, on this machine.

The task carries the kit, which pickles as a description (settings + sandbox URL); each
worker process resolves it to one kit with one client pool. Threads win on a 2-core VM
for IO-bound calls (every result crosses a process boundary, and the worker processes
share the two cores with the sandbox); the scenario shows that it runs and what it costs.
The cluster's start is measured apart and not in the per-map figures.
"""

from __future__ import annotations

import time
from typing import Any

from ._core import Context, Ratio, Scenario, ScenarioResult, alternate, register
from .fanout import jobs_of, shape


class Describe:
    """One (operation, region) call through the kit's pooled client; pickles by reference."""

    def __init__(self, kit: Any) -> None:
        self.kit = kit

    def __call__(self, job: tuple[str, str]) -> int:
        operation, region = job
        answer = getattr(self.kit.client("ec2", region), operation)()
        return int(answer["ResponseMetadata"]["HTTPStatusCode"])


@register
class Dask(Scenario):
    key, number, title = "dask", "9", "Dask: pmap on a local cluster of processes"

    def run(self, ctx: Context) -> ScenarioResult:
        from distributed import Client, LocalCluster

        ctx.uniform()
        operations, regions = shape(ctx)
        jobs = jobs_of(operations, regions)
        kit = ctx.kit("dask")
        task = Describe(kit)
        workers = 2
        start = time.perf_counter()
        with LocalCluster(n_workers=workers, threads_per_worker=ctx.workers // workers,
                          processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0",
                          worker_dashboard_address=None) as cluster, Client(cluster):
            started = time.perf_counter() - start

            def on(backend: str) -> None:
                got = kit.pmap(task, jobs, n_jobs=ctx.workers, backend=backend, retries=0)
                assert got.ok and set(got) == {200}, got.errors

            on("dask")  # the workers' kits, clients and connections
            on("threads")
            measures = alternate({"threads": lambda: on("threads"),
                                  "dask, 2 processes": lambda: on("dask")},
                                 2 if ctx.quick else ctx.rounds,
                                 notes={"threads": f"kit.pmap, {ctx.workers} threads",
                                        "dask, 2 processes":
                                            f"{workers} × {ctx.workers // workers} threads"})
        threads, dask = (m.median for m in measures)
        return self.result(
            params={"calls": len(jobs), "workers": ctx.workers, "processes": workers,
                    "rtt_s": ctx.rtt},
            measures=measures,
            ratios=[Ratio("dask / threads", dask / threads, note="> 1: threads are faster")],
            figures={"cluster_start_s": started})
