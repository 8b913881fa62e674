"""Worker metrics come home: rows recorded in Dask workers and joblib (loky) process
workers reach the notebook kit's recorder and report, once each.

The proof of "once": the sandbox counts the requests it served; the notebook's
``api_calls`` table must hold exactly that many uncached rows for the operation, and the
workers' timers, counters and nested maps' ``jobs`` rows one per job.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from reliability_figures import add_figure


class ZonesTask:
    """A job: a kit call in the worker (uncached), a timer, a counter and a nested map."""

    def __init__(self, kit: Any) -> None:
        self.kit = kit

    def __call__(self, region: str) -> int:
        with self.kit.metrics.timer("worker.zones", "test"):
            zones = self.kit.call("ec2", "describe_availability_zones", region, refresh=True)
        self.kit.metrics.count("worker.jobs")
        inner = self.kit.pmap(str.upper, ["a", "b"], desc=f"inner {region}", n_jobs=1)
        assert inner.ok
        return len(zones["AvailabilityZones"])


def _check_home(kit: Any, box: Any, regions: list[str], answers: Any) -> None:
    assert answers.ok, answers.errors
    served = box.counters_frame()
    served = served[served["operation"] == "DescribeAvailabilityZones"]
    requests = int(served["requests"].sum())
    calls = kit.metrics.frame("api_calls")
    mine = calls[(calls["operation"] == "describe_availability_zones") & ~calls["cache_hit"]]
    assert requests == len(regions)  # refresh=True: one request per job, no retries
    assert len(mine) == requests, "every worker request is one notebook row, once"
    timers = kit.metrics.frame("operations")
    assert (timers["name"] == "worker.zones").sum() == len(regions)
    assert kit.metrics.counter("worker.jobs") == len(regions)
    inner = [r for r in kit.metrics.rows("jobs") if str(r["map"]).startswith("inner ")]
    assert len(inner) == 2 * len(regions)
    summary = kit.metrics.summary()
    assert "worker.zones" in set(summary.iloc[:, 0].astype(str)) | set(
        summary.get("name", []))
    page = kit.report().to_html()
    assert "worker.zones" in page  # the workers' timer reaches the notebook's report
    add_figure("calls_made", requests)
    add_figure("duplicated_requests", len(mine) - requests)
    add_figure("results_lost", len(regions) - len(answers.values))


@pytest.fixture(scope="module", autouse=True)
def _process_wide_trackers() -> None:
    """Start the resource trackers (loky's and multiprocessing's) that live as long as
    this process, before the leak guard takes its snapshot: they are not workers."""
    import multiprocessing.resource_tracker

    from joblib.externals.loky.backend import resource_tracker

    multiprocessing.resource_tracker.ensure_running()
    resource_tracker.ensure_running()


def test_process_workers_send_their_rows_home(kit: Any, box: Any) -> None:
    regions = box.regions[:6]
    answers = kit.pmap(ZonesTask(kit), regions, backend="processes", n_jobs=2)
    try:
        _check_home(kit, box, regions, answers)
    finally:
        kit._engine.close()  # loky's workers end with the engine (the leak guard checks)


@pytest.fixture()
def dask_client() -> Iterator[Any]:
    pytest.importorskip("distributed")
    import asyncio

    from distributed import Client, LocalCluster
    from distributed.utils import offload

    async def start_offload_thread() -> None:
        await offload(lambda: None)

    asyncio.run(start_offload_thread())
    with LocalCluster(n_workers=2, threads_per_worker=2, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0", worker_dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client


@pytest.mark.allow_leaks  # distributed keeps process-wide threads once started
def test_dask_workers_send_their_rows_home(kit: Any, box: Any, dask_client: Any) -> None:
    regions = box.regions[:8]
    answers = kit.pmap(ZonesTask(kit), regions, backend="dask")
    _check_home(kit, box, regions, answers)
    # nothing is left queued in the workers: a second map brings home only its own rows
    before = len(kit.metrics.rows("api_calls"))
    again = kit.pmap(ZonesTask(kit), regions[:2], backend="dask")
    assert again.ok
    assert len(kit.metrics.rows("api_calls")) - before == 2


def test_a_shipping_recorder_drains_each_row_once() -> None:
    import threading

    from geuse_nb.config import resolve_settings
    from geuse_nb.observe.metrics import Recorder, worker_rows

    worker_rows()  # the buffer is the process's: a test before may have left a row in it
    worker = Recorder(resolve_settings()).ship_home()
    home = Recorder(resolve_settings())
    got: list[Any] = []

    def record(n: int) -> None:
        for i in range(n):
            worker.record_api_call(service="ec2", operation="x", region="r", latency=0.0)
            worker.count("c")
            if i % 50 == 0:
                got.extend(worker_rows())

    threads = [threading.Thread(target=record, args=(500,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got.extend(worker_rows())
    home.merge(got)
    assert len(home.rows("api_calls")) == 2000
    assert home.counter("c") == worker.counter("c") == 2000
    assert worker_rows() == []
