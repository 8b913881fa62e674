"""``Engine.jobs``: named jobs with dependencies."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from geuse_nb.aws.errors import is_retryable, suggestion_for
from geuse_nb.config import resolve_settings
from geuse_nb.engine.parallel import Backoff, Engine
from geuse_nb.errors import UsageError
from geuse_nb.observe.metrics import Recorder
from geuse_nb.observe.progress import Progress


@pytest.fixture()
def engine() -> Iterator[Engine]:
    settings = resolve_settings(progress_quiet=True)
    eng = Engine(settings, progress=Progress(settings), recorder=Recorder(settings),
                 retry_if=is_retryable, suggest=suggestion_for,
                 backoff=Backoff(sleep=lambda _: None))
    yield eng
    eng.close()


class Trace:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, float]] = []
        self.lock = threading.Lock()

    def job(self, name: str, value: Any = None, fail: bool = False) -> Any:
        def run(**deps: Any) -> Any:
            with self.lock:
                self.events.append(("start", name, time.monotonic()))
            if fail:
                raise RuntimeError(f"{name} broke")
            with self.lock:
                self.events.append(("end", name, time.monotonic()))
            return value if value is not None else (name, dict(sorted(deps.items())))
        return run

    def at(self, kind: str, name: str) -> float:
        return next(t for k, n, t in self.events if k == kind and n == name)

    def started(self) -> set[str]:
        return {n for k, n, _ in self.events if k == "start"}


def test_dependencies_run_in_order_and_receive_values(engine: Engine) -> None:
    t = Trace()

    def sg(vpc: str) -> str:
        t.events.append(("start", "sg", time.monotonic()))
        return f"sg-in-{vpc}"

    results = engine.jobs({
        "vpc": t.job("vpc", "vpc-1"),
        "subnet": (t.job("subnet", "sub-1"), ["vpc"]),
        "sg": (sg, ["vpc"]),
        "app": (t.job("app"), ["subnet", "sg"]),
        "log": lambda: "log-1",
    }, desc="stack")
    assert results.ok, results.errors
    assert results.keys == ["vpc", "subnet", "sg", "app", "log"]
    assert results.values["sg"] == "sg-in-vpc-1"
    assert results.values["app"] == ("app", {"sg": "sg-in-vpc-1", "subnet": "sub-1"})
    assert list(results)[4] == "log-1"
    assert t.at("start", "subnet") >= t.at("end", "vpc")
    assert t.at("start", "sg") >= t.at("end", "vpc")
    assert t.at("start", "app") >= t.at("end", "subnet")
    assert {r["key"] for r in engine.recorder.rows("jobs") if r["map"] == "stack"} == set(
        results.keys)


def test_independent_jobs_run_in_parallel(engine: Engine) -> None:
    barrier = threading.Barrier(3, timeout=5)  # breaks unless a, b and c overlap
    results = engine.jobs({
        "a": barrier.wait, "b": barrier.wait, "c": barrier.wait,
        "d": (lambda a, b, c: "after", ["a", "b", "c"]),
    }, n_jobs=3)
    assert results.ok, results.errors
    assert results.values["d"] == "after"


def test_failure_skips_dependents_transitively(engine: Engine) -> None:
    t = Trace()
    results = engine.jobs({
        "vpc": t.job("vpc", fail=True),
        "sg": (t.job("sg"), ["vpc"]),
        "app": (t.job("app"), ["sg"]),
        "other": t.job("other", "fine"),
    }, retries=0)
    assert results.statuses == {"vpc": "failed", "sg": "skipped", "app": "skipped",
                                "other": "done"}
    assert "sg" not in t.started() and "app" not in t.started()
    assert "'vpc' failed" in results.errors["sg"] and "'sg' skipped" in results.errors["app"]
    assert "vpc broke" in results.errors["vpc"]
    assert list(results.failed) == ["vpc"]
    frame = results.frame().set_index("key")
    assert frame.loc["sg", "attempts"] == 0 and frame.loc["sg", "suggestion"] == "fix 'vpc' " \
        "and run again"


def test_cycle_is_rejected_before_anything_starts(engine: Engine) -> None:
    t = Trace()
    rotations = "a → c → b → a|c → b → a → c|b → a → c → b"
    with pytest.raises(UsageError, match=rf"cycle: ({rotations}) \(each needs"):
        engine.jobs({"start": t.job("start"), "a": (t.job("a"), ["c"]),
                     "b": (t.job("b"), ["a"]), "c": (t.job("c"), ["b"])})
    assert t.events == []


def test_unknown_dependency_names_the_closest_match(engine: Engine) -> None:
    t = Trace()
    with pytest.raises(UsageError, match=r"unknown job 'vcp'.*did you mean 'vpc'"):
        engine.jobs({"vpc": t.job("vpc"), "sg": (t.job("sg"), ["vcp"])})
    assert t.events == []


@pytest.mark.parametrize("spec", [
    {}, {"a": 42}, {"a": (len, "b"), "b": len}, {"a": (len, ["b"], 3)}, {1: len},
    {"a": lambda: 1, "b": (lambda x: x, ["a"])},
])
def test_bad_specs(engine: Engine, spec: Any) -> None:
    with pytest.raises(UsageError):
        engine.jobs(spec)


def test_timed_out_dependency_skips_its_dependents(engine: Engine) -> None:
    hold = threading.Event()
    try:
        results = engine.jobs({"slow": lambda: hold.wait(10), "next": (lambda: 1, ["slow"])},
                              timeout=0.2)
    finally:
        hold.set()
    assert results.statuses == {"slow": "timed_out", "next": "skipped"}
    assert "'slow' timed out" in results.errors["next"]


def test_cancel_marks_running_and_waiting_jobs(engine: Engine) -> None:
    hold = threading.Event()
    timer = threading.Timer(0.3, engine.cancel)
    timer.start()
    try:
        results = engine.jobs({"quick": lambda: 1, "long": lambda: hold.wait(10),
                               "after": (lambda: 2, ["long"])})
    finally:
        hold.set()
        timer.join()
    assert results.statuses == {"quick": "done", "long": "cancelled", "after": "cancelled"}
    assert results.cancelled and results.values == {"quick": 1}
