"""Ctrl-C during pmap, fanout, cache warm, spot history and rollout run: control comes
back within a second, the state tables say what finished and what did not (each item
once), and no thread or child process is left (the leak guard of tests/conftest.py)."""

from __future__ import annotations

import _thread
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from reliability_figures import add_figure

from geuse_nb.ops import rollout, spot

FAST = ["us-east-1", "us-east-2"]
SLOW = ["eu-west-1", "eu-central-1", "ap-southeast-1", "ap-northeast-1"]
REGIONS = FAST + SLOW
PROMPT = 1.0  # seconds from Ctrl-C to control back


@pytest.fixture()
def slow_box(box: Any) -> Iterator[Any]:
    """Fast regions answer at once, slow ones take 1 s a request (3 s on a new
    connection: the handshake costs 2 RTT), so the abandoned calls end before the kit's
    close stops waiting for them."""
    box.set_network(rtt={**{r: 0.0 for r in FAST}, **{r: 1.0 for r in SLOW}})
    yield box


class Interrupter:
    """Ctrl-C (``_thread.interrupt_main``) once ``ready()`` is true; remembers when."""

    def __init__(self, ready: Callable[[], bool]) -> None:
        self.ready = ready
        self.at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-interrupter")

    def _run(self) -> None:
        deadline = time.monotonic() + 30
        while not self._stop.is_set() and time.monotonic() < deadline:
            if self.ready():
                self.at = time.monotonic()
                _thread.interrupt_main()
                return
            self._stop.wait(0.01)

    def __enter__(self) -> Interrupter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def returned(self) -> float:
        assert self.at is not None, "the interrupt was never sent"
        took = time.monotonic() - self.at
        add_figure("max_interrupt_return_seconds", took)
        return took


def _answered(kit: Any, n: int) -> Callable[[], bool]:
    """True once the running map has resolved ``n`` jobs as done (read from the engine's
    active runs: an ``api_calls`` row comes before its job is resolved)."""
    return lambda: any(run.counts["done"] >= n for run in list(kit._engine._active))


def test_ctrl_c_in_pmap(kit: Any, slow_box: Any) -> None:
    items = REGIONS * 2
    with Interrupter(_answered(kit, len(FAST))) as ctrl_c:
        res = kit.pmap(lambda r: kit.call("ec2", "describe_regions", r, refresh=True),
                       items, n_jobs=len(items))
        assert ctrl_c.returned() <= PROMPT
    assert res.cancelled
    assert len(res) == len(items)
    done = [i for i, k in enumerate(res.keys) if res.statuses[k] == "done"]
    assert done and all(items[i] in FAST and res[i] is not None for i in done)
    others = [k for k in res.keys if res.statuses[k] != "done"]
    assert {res.statuses[k] for k in others} == {"cancelled"}
    assert len(done) + len(others) == len(items)
    rows = kit.metrics.rows("jobs")
    assert len(rows) == len(items)  # each job once, with its final state


def test_ctrl_c_in_fanout_and_spot_history(kit: Any, slow_box: Any) -> None:
    with Interrupter(_answered(kit, len(FAST))) as ctrl_c:
        frame = kit.fanout("ec2", "describe_availability_zones", REGIONS, refresh=True)
        assert ctrl_c.returned() <= PROMPT
    failed = {f["region"]: f for f in frame.attrs["failed"]}
    assert set(frame["region"]) == set(FAST) and set(failed) == set(SLOW)
    assert all(f["error"] for f in failed.values())

    with Interrupter(_answered(kit, len(FAST))) as ctrl_c:
        hist = spot.history(kit, ["m5.large"], REGIONS, days=1, refresh=True)
        assert ctrl_c.returned() <= PROMPT
    assert set(hist["region"]) <= set(FAST) and len(hist)
    assert {f["region"] for f in hist.attrs["failed"]} == set(SLOW)


def test_ctrl_c_in_cache_warm(kit: Any, slow_box: Any) -> None:
    calls = [("ec2", "describe_availability_zones", r) for r in REGIONS]
    with Interrupter(_answered(kit, len(FAST))) as ctrl_c:
        table = kit.warm(calls)
        assert ctrl_c.returned() <= PROMPT
    assert len(table) == len(REGIONS)
    ok = set(table.loc[table["ok"].astype(bool), "region"])
    assert ok == set(FAST)
    assert table.loc[~table["ok"].astype(bool), "error"].notna().all()
    slow_box.set_network(rtt=0.0)
    for region in FAST:  # what finished was stored
        before = slow_box.requests()
        kit.call("ec2", "describe_availability_zones", region)
        assert slow_box.requests() == before


def test_ctrl_c_in_rollout_run(kit: Any, slow_box: Any) -> None:
    name = "int-" + uuid.uuid4().hex[:8]
    slow_box.set_network(rtt=0.0)
    rollout.run(kit, rollout.plan(REGIONS[:1]), rollout.template_path(), stack_name=name)
    slow_box.set_stacks(provision_seconds=20.0)
    plan = rollout.plan(REGIONS, max_concurrent=2, mode="soft")

    def two_provisioning() -> bool:
        return sum(1 for s in slow_box.stacks()["stacks"] if s["stack_name"] == name) >= 2

    with Interrupter(two_provisioning) as ctrl_c, \
            pytest.raises(rollout.RolloutInterrupted) as caught:
        rollout.run(kit, plan, rollout.template_path(), stack_name=name, apply=True)
    assert ctrl_c.returned() <= PROMPT
    result = caught.value.result
    frame = result.frame()
    assert sorted(frame["region"]) == sorted(REGIONS)  # every region once
    assert len(result.regions(rollout.RegionState.INTERRUPTED)) == 2
    assert len(result.regions(rollout.RegionState.SKIPPED)) == len(REGIONS) - 2
    assert not [t for t in threading.enumerate() if t.name.startswith("geuse-rollout")]
