"""The parallel engine with plain Python functions: order, retries, timeouts, cancel, DAGs."""

from __future__ import annotations

import pickle
import queue
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import joblib
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from geuse_nb.aws.errors import is_retryable, suggestion_for
from geuse_nb.config import resolve_settings
from geuse_nb.engine import _run
from geuse_nb.engine._runner import JobRunner
from geuse_nb.engine.parallel import Backoff, Engine, auto_workers, resolve_workers
from geuse_nb.engine.results import JobResults
from geuse_nb.errors import AwsCallError, JobError, UsageError
from geuse_nb.observe.metrics import Recorder
from geuse_nb.observe.progress import Progress
from geuse_nb.states import JobStatus


class StatusLog:
    """A status line that keeps every update (the API of what progress.status returns)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.history: list[dict[str, int]] = []
        self.closed = False

    def update(self, **counts: int) -> None:
        self.history.append(counts)

    def close(self) -> None:
        self.closed = True


class LoggingProgress(Progress):
    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.lines: list[StatusLog] = []

    def status(self, desc: str | None, total: int) -> Any:
        line = StatusLog(total)
        self.lines.append(line)
        return line


@pytest.fixture()
def settings() -> Any:
    return resolve_settings(progress_quiet=True)


@pytest.fixture()
def sleeps() -> list[float]:
    return []


@pytest.fixture()
def engine(settings: Any, sleeps: list[float]) -> Iterator[Engine]:
    eng = Engine(settings, progress=LoggingProgress(settings), recorder=Recorder(settings),
                 retry_if=is_retryable, suggest=suggestion_for,
                 backoff=Backoff(base=0.2, cap=1.0, rand=lambda: 1.0, sleep=sleeps.append))
    yield eng
    eng.close()


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} happened"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "DescribeThings")


# ---------------------------------------------------------------- pmap basics
def test_values_in_input_order_and_frame(engine: Engine) -> None:
    items = list(range(40))
    results = engine.pmap(lambda x: x * x, items, n_jobs=8, desc="squares")
    assert isinstance(results, JobResults)
    assert list(results) == [x * x for x in items]
    assert results.ok and not results.cancelled and results.failed == {}
    df = results.frame()
    assert list(df.columns) == ["key", "status", "attempts", "started", "ended", "seconds",
                                "error", "suggestion"]
    assert (df["status"] == "done").all() and (df["attempts"] == 1).all()
    assert list(df["key"]) == items
    rows = engine.recorder.rows("jobs")
    assert len(rows) == 40 and {r["map"] for r in rows} == {"squares"}
    line = engine.progress.lines[-1]  # type: ignore[attr-defined]
    assert line.closed and line.history[-1]["done"] == 40


def test_string_items_are_keys_and_duplicates_fall_back_to_positions(engine: Engine) -> None:
    assert engine.pmap(str.upper, ["a", "b"]).keys == ["a", "b"]
    assert engine.pmap(str.upper, ["a", "a"]).keys == [0, 1]
    assert engine.pmap(str.upper, []).keys == []


def test_jobs_run_concurrently(engine: Engine) -> None:
    barrier = threading.Barrier(4, timeout=5)  # breaks unless 4 jobs run at once
    results = engine.pmap(lambda _: barrier.wait(), range(4), n_jobs=4, retries=0)
    assert results.ok, results.errors


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(("kwargs", "word"), [
    ({"n_jobs": 0}, "n_jobs"), ({"n_jobs": -3}, "n_jobs"), ({"n_jobs": 2.5}, "n_jobs"),
    ({"timeout": -1}, "timeout"), ({"timeout": 0}, "timeout"),
    ({"retries": -1}, "retries"), ({"backend": "mpi"}, "backend"),
])
def test_bad_arguments_fail_before_any_job(engine: Engine, kwargs: dict[str, Any],
                                           word: str) -> None:
    ran: list[int] = []
    with pytest.raises(UsageError, match=word):
        engine.pmap(ran.append, [1, 2], **kwargs)
    assert ran == []


def test_bad_fn_or_items(engine: Engine) -> None:
    with pytest.raises(UsageError, match="not callable"):
        engine.pmap(42, [1])  # type: ignore[arg-type]
    for items in (5, None, "abc"):
        with pytest.raises(UsageError, match="not a collection"):
            engine.pmap(str, items)  # type: ignore[arg-type]


# ---------------------------------------------------------------- retries
def test_backoff_full_jitter_is_capped() -> None:
    b = Backoff(base=0.2, cap=1.0, rand=lambda: 1.0)
    assert [b.delay(n) for n in (1, 2, 3, 4, 5)] == [0.2, 0.4, 0.8, 1.0, 1.0]
    assert Backoff(rand=lambda: 0.0).delay(3) == 0.0


def test_retryable_failures_are_retried_with_backoff(engine: Engine,
                                                     sleeps: list[float]) -> None:
    seen: dict[int, int] = {}
    lock = threading.Lock()

    def flaky(x: int) -> int:
        with lock:
            seen[x] = seen.get(x, 0) + 1
            n = seen[x]
        if x == 0 and n <= 2:
            raise client_error("Throttling")
        if x == 1 and n == 1:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
        if x == 2 and n == 1:
            raise client_error("InternalError", 500)
        return x

    results = engine.pmap(flaky, [0, 1, 2, 3], retries=3)
    assert results.ok and list(results) == [0, 1, 2, 3]
    attempts = dict(zip(results.keys, results.frame()["attempts"], strict=True))
    assert attempts == {0: 3, 1: 2, 2: 2, 3: 1}
    assert sorted(sleeps) == [0.2, 0.2, 0.2, 0.4]


@pytest.mark.parametrize("exc", [
    client_error("AccessDenied", 403), client_error("UnauthorizedOperation", 403),
    client_error("ValidationError"), ValueError("bad"), KeyError("x"),
    AwsCallError("denied", service="ec2", operation="x", region="r", retryable=False),
])
def test_non_retryable_failures_fail_at_once(engine: Engine, sleeps: list[float],
                                             exc: Exception) -> None:
    def fail(_: int) -> None:
        raise exc

    results = engine.pmap(fail, [1], retries=5)
    assert results.statuses == {1: "failed"} and sleeps == []
    row = results.frame().iloc[0]
    assert row["attempts"] == 1 and type(exc).__name__ in row["error"]
    assert results.failed[1] is exc and not results.ok
    with pytest.raises(JobError, match="1 job"):
        results.raise_for_failures()


def test_retries_exhausted_keeps_last_error_and_suggestion(engine: Engine) -> None:
    err = AwsCallError("slow down", service="ec2", operation="describe_regions",
                       region="eu-west-1", error_code="Throttling", retryable=True,
                       suggestion="lower n_jobs")
    results = engine.pmap(lambda _: (_ for _ in ()).throw(err), ["k"], retries=2)
    row = results.frame().iloc[0]
    assert row["status"] == "failed" and row["attempts"] == 3
    assert row["suggestion"] == "lower n_jobs" and "slow down" in row["error"]


def test_retrying_count_reaches_the_status_line(settings: Any) -> None:
    progress = LoggingProgress(settings)
    release = threading.Event()
    eng = Engine(settings, progress=progress, recorder=Recorder(settings),
                 retry_if=is_retryable, suggest=suggestion_for,
                 backoff=Backoff(sleep=lambda _: release.wait(5)))
    calls: list[int] = []

    def once_throttled(x: int) -> int:
        calls.append(x)
        if len(calls) == 1:
            threading.Timer(0.2, release.set).start()
            raise client_error("RequestLimitExceeded")
        threading.Event().wait(0.5)  # the retry runs a while: long enough to be seen running
        return x

    try:
        assert eng.pmap(once_throttled, [7], retries=1).ok
    finally:
        eng.close()
    history = progress.lines[-1].history
    assert any(h.get("retrying") == 1 for h in history)
    assert any(h.get("running") == 1 for h in history)


class CountingQueue(queue.SimpleQueue):  # type: ignore[type-arg]
    """The run's event queue, counting what wakes the calling thread."""

    puts: ClassVar[list[str]] = []

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        CountingQueue.puts.append(type(item).__name__)
        super().put(item, block, timeout)


@pytest.mark.parametrize("timeout", [None, 30.0, 1.0])
def test_a_maps_jobs_wake_its_loop_only_when_a_short_timeout_waits_on_them(
        settings: Any, monkeypatch: pytest.MonkeyPatch, timeout: float | None) -> None:
    monkeypatch.setattr(_run.queue, "SimpleQueue", CountingQueue)
    CountingQueue.puts = []
    progress = LoggingProgress(settings)
    eng = Engine(settings, progress=progress, recorder=Recorder(settings),
                 retry_if=is_retryable, suggest=suggestion_for)
    slow = threading.Event()

    def job(x: int) -> int:
        if x == 0:
            slow.wait(0.5)  # still running when the others end (the loop reads every 0.1 s)
        return x

    try:
        results = eng.pmap(job, range(20), n_jobs=4, timeout=timeout)
    finally:
        slow.set()
        eng.close()
    assert results.ok and list(results) == list(range(20))
    woken = CountingQueue.puts
    assert woken.count("Ended") == woken.count("Started") == (20 if timeout == 1.0 else 0)
    assert woken.count("DriverDone") == 1  # after the last end: what ends the wait
    frame = results.frame()
    assert (frame["attempts"] == 1).all() and frame["started"].notna().all()
    # the status line still sees the slow job running once the others have ended
    assert any(h.get("running", 0) >= 1 and h.get("done", 0) >= 1
               for h in progress.lines[-1].history)


def test_a_dags_ends_still_wake_its_loop(settings: Any,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_run.queue, "SimpleQueue", CountingQueue)
    CountingQueue.puts = []
    eng = Engine(settings, progress=LoggingProgress(settings), recorder=Recorder(settings),
                 retry_if=is_retryable, suggest=suggestion_for)
    try:  # each end starts what depends on it: the loop must see it at once
        results = eng.jobs({"a": lambda: 1, "b": (lambda a: a + 1, ["a"]),
                            "c": (lambda b: b + 1, ["b"])})
    finally:
        eng.close()
    assert results.values["c"] == 3
    assert CountingQueue.puts.count("Ended") == 3
    assert CountingQueue.puts.count("Started") == 0


# ---------------------------------------------------------------- timeouts
def test_a_noted_start_still_times_out(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_run, "NOTED_STARTS_FROM", 0.1)  # 0.4 s counts as long here
    stuck = threading.Event()
    started = time.monotonic()
    try:
        results = engine.pmap(lambda x: stuck.wait(10) if x == 1 else x, range(4), n_jobs=2,
                              timeout=0.4)
    finally:
        stuck.set()
    assert results.statuses[1] == "timed_out"
    assert [results[k] for k in (0, 2, 3)] == [0, 2, 3]
    assert time.monotonic() - started < 5  # enforced by the loop, not the 10 s wait


def test_timed_out_job_is_marked_and_the_map_goes_on(engine: Engine) -> None:
    stuck = threading.Event()

    def job(x: int) -> int:
        if x == 3:
            stuck.wait(10)
        return x

    try:
        results = engine.pmap(job, range(10), n_jobs=3, timeout=0.3, retries=2)
    finally:
        stuck.set()  # let the abandoned attempt end so close() joins it
    assert results.statuses[3] == "timed_out"
    assert all(results.statuses[k] == "done" for k in range(10) if k != 3)
    assert results[3] is None and results[9] == 9
    assert isinstance(results.failed[3], TimeoutError)
    assert results.frame().set_index("key").loc[3, "attempts"] == 1


def test_all_workers_held_by_timeouts_cancels_the_rest(engine: Engine) -> None:
    stuck = threading.Event()
    try:
        results = engine.pmap(lambda x: stuck.wait(10), range(6), n_jobs=2, timeout=0.2)
    finally:
        stuck.set()
    statuses = list(results.statuses.values())
    assert statuses.count(JobStatus.TIMED_OUT) == 2 and statuses.count(JobStatus.CANCELLED) == 4
    assert "workers are held" in results.errors[5]


# ---------------------------------------------------------------- cancellation
def test_cancel_from_another_thread_keeps_finished_values(engine: Engine) -> None:
    def job(x: int) -> int:
        time.sleep(0.5)  # the workload itself
        return x * 10

    timer = threading.Timer(1.0, engine.cancel)
    timer.start()
    began = time.monotonic()
    results = engine.pmap(job, range(100), n_jobs=8)
    cancelled_at = began + 1.0
    assert time.monotonic() - cancelled_at < 1.0
    timer.join()
    statuses = results.statuses
    done = [k for k, s in statuses.items() if s == "done"]
    assert 8 <= len(done) < 100 and results.cancelled
    assert all(results[i] == i * 10 for i, s in enumerate(statuses.values()) if s == "done")
    assert {s for s in statuses.values()} == {"done", "cancelled"}
    assert results.frame().query("status == 'cancelled'")["started"].isna().sum() > 50
    engine.close()
    assert not [t for t in threading.enumerate() if t.name.startswith(("geuse", "Dummy"))]


def test_ctrl_c_returns_partial_results(engine: Engine) -> None:
    gate = threading.Event()
    main = threading.main_thread().ident
    assert main == threading.get_ident()

    def job(x: int) -> int:
        if x >= 4:
            gate.wait(10)
        else:
            threading.Timer(0.3, signal.pthread_kill, (main, signal.SIGINT)).start() \
                if x == 0 else None
        return x

    try:
        results = engine.pmap(job, range(8), n_jobs=8)
    finally:
        gate.set()
    assert results.cancelled
    assert [results[k] for k in range(4)] == [0, 1, 2, 3]
    assert all(results.statuses[k] == "cancelled" for k in range(4, 8))
    assert engine.last_results is results


def test_ctrl_c_with_nothing_finished_reraises(engine: Engine) -> None:
    gate = threading.Event()
    main = threading.main_thread().ident
    timer = threading.Timer(0.3, signal.pthread_kill, (main, signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            engine.pmap(lambda _: gate.wait(10), range(3), n_jobs=3)
    finally:
        gate.set()
        timer.join()
    assert engine.last_results is not None and engine.last_results.cancelled


def test_closed_engine_refuses_work(engine: Engine) -> None:
    engine.close()
    engine.close()
    with pytest.raises(UsageError, match="closed"):
        engine.pmap(str, [1])


# ---------------------------------------------------------------- worker counts
def test_worker_count_resolution(settings: Any) -> None:
    s = settings.replace(pool_max_connections=10, parallel_max_workers=None)
    assert auto_workers(2) == 12 and auto_workers(16) == 32
    assert resolve_workers(None, s, 100) == 10  # auto, capped by the pool
    assert resolve_workers(16, s, 100) == 16  # explicit is not capped by the pool
    assert resolve_workers(16, s, 5) == 5  # but by the number of items
    assert resolve_workers(None, s, 100, context_n_jobs=3) == 3
    assert resolve_workers(4, s, 100, context_n_jobs=3) == 4
    assert resolve_workers(None, s.replace(parallel_max_workers=4), 100) == 4
    assert resolve_workers(None, s.replace(parallel_max_workers=50), 100) == 10
    assert resolve_workers(None, s, 0) == 1


def test_parallel_config_context_sets_the_worker_count(engine: Engine) -> None:
    active = 0
    peak = 0
    lock = threading.Lock()
    barrier = threading.Barrier(3, timeout=5)

    def job(_: int) -> None:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        barrier.wait()
        with lock:
            active -= 1

    with joblib.parallel_config(n_jobs=3):
        assert engine.pmap(job, range(9), retries=0).ok
    assert peak == 3


def test_runner_pickles_without_its_queue() -> None:
    runner = JobRunner(2, 1.0, Backoff(), is_retryable, post=print, cancel=threading.Event())
    clone = pickle.loads(pickle.dumps(runner))
    assert clone.post is None and clone.cancel is None and clone.retries == 2
    out = clone(0, lambda: 5)
    assert out is not None and out.status == "done" and out.value == 5
