"""``pmap`` on a dask.distributed LocalCluster (processes) against the sandbox."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("distributed")

class ZoneNames:
    """The task: an importable callable carrying the kit, which pickles as a description
    (settings + backend); each worker process resolves it to one Kit with one pool."""

    def __init__(self, kit: Any) -> None:
        self.kit = kit

    def __call__(self, region: str) -> list[str]:
        client = self.kit.client("ec2", region)
        zones = client.describe_availability_zones()["AvailabilityZones"]
        return sorted(z["ZoneName"] for z in zones)


@pytest.fixture(scope="module", autouse=True)
def _dask_process_globals() -> None:
    """Start what distributed keeps for the life of the process (its offload thread, the
    multiprocessing resource tracker) before the leak guard takes its snapshot."""
    import multiprocessing.resource_tracker

    from distributed.utils import offload

    multiprocessing.resource_tracker.ensure_running()
    import asyncio

    async def start_offload_thread() -> None:
        await offload(lambda: None)

    asyncio.run(start_offload_thread())


def _kits_built() -> int:
    from geuse_nb import shared

    return shared.built("kit")


def test_dask_pmap_equals_threads_and_builds_one_pool_per_worker(kit: Any) -> None:
    from distributed import Client, LocalCluster

    regions = kit.sandbox.regions[:6]
    task = ZoneNames(kit)
    expected = kit.pmap(task, regions, n_jobs=4)
    assert expected.ok, expected.errors
    with LocalCluster(n_workers=2, threads_per_worker=2, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0", worker_dashboard_address=None) as cluster, \
            Client(cluster) as client:
        first = kit.pmap(task, regions * 4, backend="dask", desc="on dask")
        built = client.run(_kits_built)
        import joblib

        with joblib.parallel_config(backend="dask"):
            second = kit.pmap(task, regions, timeout=30)
    assert first.ok, first.errors
    assert list(first) == list(expected) * 4
    assert list(second) == list(expected)
    assert sorted(built.values()) in ([1, 1], [0, 1])  # ≤ one kit (one pool) per worker
    assert sum(built.values()) >= 1
    rows = [r for r in kit.metrics.rows("jobs") if r["map"] == "on dask"]
    assert len(rows) == 24 and {r["status"] for r in rows} == {"done"}


def test_dask_missing_client_is_a_clear_failure(kit: Any) -> None:
    with pytest.raises(Exception, match=r"(?i)client|cluster|scheduler"):
        kit.pmap(str, [1, 2], backend="dask")
