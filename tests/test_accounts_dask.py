"""``kit.fanout(accounts=…, backend="dask")`` on a LocalCluster (processes) against the
sandbox: the same frame as threads, the api_calls rows home, each worker assuming each
role at most once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import geuse_nb as gn

pytest.importorskip("distributed")

REGIONS = ["us-east-1", "eu-west-1", "us-west-2"]
WORKERS = 2


@pytest.fixture(scope="module")
def box() -> Iterator[Any]:
    from geuse_nb.sandbox import Sandbox

    with Sandbox(seed=12, rtt=0.002, regions=REGIONS) as sandbox:
        yield sandbox


@pytest.fixture(scope="module", autouse=True)
def _dask_process_globals() -> None:
    """What distributed keeps for the life of the process, started before the leak guard
    takes its snapshot (as tests/test_dask.py does)."""
    import asyncio
    import multiprocessing.resource_tracker

    from distributed.utils import offload

    multiprocessing.resource_tracker.ensure_running()

    async def start_offload_thread() -> None:
        await offload(lambda: None)

    asyncio.run(start_offload_thread())


def _assumed_here() -> dict[str, int]:
    from geuse_nb.aws.assumed import assume_role_requests

    return assume_role_requests()


def _assume_role_requests(box: Any) -> int:
    counts = box.counters_frame()
    return int(counts[counts["operation"] == "AssumeRole"]["requests"].sum())


def test_dask_fanout_over_accounts_equals_threads(box: Any) -> None:
    from distributed import Client, LocalCluster

    ids = [a["account_id"] for a in box.create_accounts([f"dask-{i}" for i in range(4)])]
    ops = ["describe_vpcs", "describe_security_groups"]
    box.reset_counters()
    before = _assumed_here()  # other tests' kits in this process may have assumed roles
    with gn.Kit("on-dask", backend="sandbox", sandbox=box) as kit:
        with LocalCluster(n_workers=WORKERS, threads_per_worker=2, processes=True,
                          host="127.0.0.1", dashboard_address="127.0.0.1:0",
                          worker_dashboard_address=None) as cluster, Client(cluster) as client:
            on_dask = kit.fanout("ec2", ops, REGIONS, accounts=ids, backend="dask")
            per_worker = client.run(_assumed_here)
        assumed = _assume_role_requests(box)
        at_home = _assumed_here()
        calls = kit.metrics.frame("api_calls")
        threads = kit.fanout("ec2", ops, REGIONS, accounts=ids, refresh=True)
    assert not on_dask.attrs["failed"] and not threads.attrs["failed"]
    assert on_dask.columns[0] == "account"
    key = ["account", "region", "operation", "VpcId", "GroupId"]
    pd = pytest.importorskip("pandas")
    pd.testing.assert_frame_equal(on_dask.sort_values(key, ignore_index=True),
                                  threads.sort_values(key, ignore_index=True))
    assert len(ids) <= assumed <= len(ids) * WORKERS
    assert all(n <= 1 for counts in per_worker.values() for n in counts.values())
    assert sum(n for counts in per_worker.values() for n in counts.values()) == assumed
    assert all(at_home.get(a, 0) == before.get(a, 0) for a in ids)  # nothing assumed here
    sent = calls[(calls["service"] == "ec2") & ~calls["cache_hit"].astype(bool)]
    assert len(sent) == len(ids) * len(REGIONS) * len(ops)  # every worker's row came home
    assert set(sent["account"]) == set(ids)
    assert len(calls[calls["operation"] == "assume_role"]) == assumed
