"""``pmap`` on a dask.distributed LocalCluster (processes) against the sandbox."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from geuse_nb.backend import Backend

pytest.importorskip("distributed")

# Per worker process: the pools this process built, by backend identity (read with client.run).
_POOLS: dict[str, Any] = {}
_LOCK = threading.Lock()


def _pool(backend: Backend) -> Any:
    """One ClientPool per worker process, found by import (never pickled per task)."""
    from geuse_nb.config import resolve_settings
    from geuse_nb.pool import ClientPool

    with _LOCK:
        if backend.identity not in _POOLS:
            _POOLS[backend.identity] = ClientPool(resolve_settings(backend="sandbox"), backend)
        return _POOLS[backend.identity]


class ZoneNames:
    """The task: picklable (a Backend description), importable, builds nothing per call."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def __call__(self, region: str) -> list[str]:
        client = _pool(self.backend).client("ec2", region)
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

    asyncio.run(offload(lambda: None))


def _pools_built() -> int:
    return len(_POOLS)


def test_dask_pmap_equals_threads_and_builds_one_pool_per_worker(kit: Any) -> None:
    from distributed import Client, LocalCluster

    regions = kit.sandbox.regions[:6]
    task = ZoneNames(kit.backend)
    expected = kit.pmap(task, regions, n_jobs=4)
    assert expected.ok, expected.errors
    with LocalCluster(n_workers=2, threads_per_worker=2, processes=True, host="127.0.0.1",
                      dashboard_address=None, worker_dashboard_address=None) as cluster, \
            Client(cluster) as client:
        first = kit.pmap(task, regions * 4, backend="dask", desc="on dask")
        built = client.run(_pools_built)
        import joblib

        with joblib.parallel_config(backend="dask"):
            second = kit.pmap(task, regions, timeout=30)
    assert first.ok, first.errors
    assert list(first) == list(expected) * 4
    assert list(second) == list(expected)
    assert sorted(built.values()) in ([1, 1], [0, 1])  # ≤ one pool per worker process
    assert sum(built.values()) >= 1
    rows = [r for r in kit.metrics.rows("jobs") if r["map"] == "on dask"]
    assert len(rows) == 24 and {r["status"] for r in rows} == {"done"}


def test_dask_missing_client_is_a_clear_failure(kit: Any) -> None:
    with pytest.raises(Exception, match=r"(?i)client|cluster|scheduler"):
        kit.pmap(str, [1, 2], backend="dask")
