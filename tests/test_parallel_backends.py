"""The engine's extension points and policies: backends from a registry, ``retry_if`` and
``suggest`` handed in, typed job statuses, and no AWS knowledge inside the engine."""

from __future__ import annotations

import ast
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

import geuse_nb.engine as engine_pkg
from geuse_nb.config import resolve_settings
from geuse_nb.engine import EngineBackend, Run, register_backend
from geuse_nb.engine.parallel import Backoff, Engine
from geuse_nb.errors import GeuseError, UsageError
from geuse_nb.observe.metrics import Recorder
from geuse_nb.observe.progress import Progress
from geuse_nb.states import JobStatus


# ---------------------------------------------------------------- a backend of our own
class OneByOne(EngineBackend):
    """Every job in turn on one thread of its own, in input order: a backend the package
    does not have, defined here alone."""

    instances: ClassVar[list[OneByOne]] = []

    def __init__(self) -> None:
        self.maps = 0
        self.order: list[int] = []
        self.threads: set[str] = set()
        self.closed = False
        OneByOne.instances.append(self)

    def start(self, run: Run, calls: Sequence[Callable[[], Any]]) -> None:
        self.maps += 1

        def drive() -> None:
            try:
                for i, call in enumerate(calls):
                    if run.cancel.is_set():
                        break
                    self.order.append(i)
                    self.threads.add(threading.current_thread().name)
                    run.runner(i, call)
            finally:
                run.done()

        thread = threading.Thread(target=drive, name=f"one-by-one-{run.name}", daemon=True)
        run.adopt(thread)
        thread.start()

    def close(self) -> None:
        self.closed = True


class FarAway(EngineBackend):
    """Jobs through the remote runner (as an out-of-process backend would run them):
    the runner returns each Outcome, the backend reports it."""

    def start(self, run: Run, calls: Sequence[Callable[[], Any]]) -> None:
        def drive() -> None:
            for i, call in enumerate(calls):
                out = run.remote_runner(i, call)
                assert out is not None
                run.report(out)
            run.done()

        thread = threading.Thread(target=drive, name="far-away", daemon=True)
        run.adopt(thread)
        thread.start()


register_backend("one_by_one", OneByOne)
register_backend("far_away", FarAway)


def test_a_backend_registered_in_a_test_file_is_used_by_kit_pmap(kit: Any) -> None:
    OneByOne.instances.clear()
    seen: list[tuple[int, str]] = []

    def job(x: int) -> int:
        seen.append((x, threading.current_thread().name))
        return x * 3

    first = kit.pmap(job, range(6), backend="one_by_one", desc="ours")
    second = kit.pmap(job, [10, 11], backend="one_by_one")
    assert list(first) == [0, 3, 6, 9, 12, 15] and first.ok
    assert list(second) == [30, 33]
    assert len(OneByOne.instances) == 1  # one instance per engine, reused by both maps
    ours = OneByOne.instances[0]
    assert ours.maps == 2 and ours.order == [0, 1, 2, 3, 4, 5, 0, 1]
    assert {name for _, name in seen} == {"one-by-one-ours", "one-by-one-job"}
    assert [x for x, _ in seen] == [0, 1, 2, 3, 4, 5, 10, 11]  # one at a time, in order
    rows = [r for r in kit.metrics.rows("jobs") if r["map"] == "ours"]
    assert [r["status"] for r in rows] == [JobStatus.DONE] * 6
    kit.close()
    assert ours.closed  # Engine.close() closes the backends it made


def test_an_outcome_reported_by_a_remote_style_backend(kit: Any) -> None:
    def job(x: int) -> int:
        if x == 2:
            raise ValueError("two is bad")
        return x

    results = kit.pmap(job, [1, 2, 3], backend="far_away", retries=3)
    assert results.statuses == {1: "done", 2: "failed", 3: "done"}
    assert isinstance(results.failed[2], ValueError)
    assert results.frame().set_index("key").loc[2, "attempts"] == 1  # not retryable


def test_unknown_backend_names_the_choices(kit: Any) -> None:
    ran: list[int] = []
    with pytest.raises(UsageError) as info:
        kit.pmap(ran.append, [1], backend="thread")
    text = str(info.value)
    assert "did you mean 'threads'" in text and "dask" in text and "register_backend" in text
    assert ran == []


@pytest.mark.parametrize("cls", [object, int, "threads"])
def test_register_backend_takes_engine_backends_only(cls: Any) -> None:
    with pytest.raises(UsageError, match="EngineBackend"):
        register_backend("broken", cls)


def test_the_backend_interface_requires_start() -> None:
    class Empty(EngineBackend):
        pass

    with pytest.raises(TypeError, match="start"):
        Empty()  # type: ignore[abstract]


# ---------------------------------------------------------------- policies handed in
class Picky(Exception):
    pass


def retry_picky(exc: BaseException) -> bool:
    return isinstance(exc, Picky)


@pytest.fixture()
def make_engine() -> Iterator[Callable[..., Engine]]:
    made: list[Engine] = []

    def make(**policies: Any) -> Engine:
        settings = resolve_settings(progress_quiet=True)
        eng = Engine(settings, progress=Progress(settings), recorder=Recorder(settings),
                     backoff=Backoff(sleep=lambda _: None), **policies)
        made.append(eng)
        return eng

    yield make
    for eng in made:
        eng.close()


def test_retry_if_decides_what_is_retried(make_engine: Callable[..., Engine]) -> None:
    eng = make_engine(retry_if=retry_picky, suggest=lambda _: None)
    tries: dict[str, int] = {"picky": 0, "value": 0}
    lock = threading.Lock()

    def job(kind: str) -> str:
        with lock:
            tries[kind] += 1
            n = tries[kind]
        if n <= 2:
            raise Picky("again") if kind == "picky" else ValueError("no")
        return kind

    results = eng.pmap(job, ["picky", "value"], retries=5)
    assert results.statuses == {"picky": JobStatus.DONE, "value": JobStatus.FAILED}
    assert tries == {"picky": 3, "value": 1}


def test_suggest_fills_the_suggestion_column(make_engine: Callable[..., Engine]) -> None:
    def suggest(exc: BaseException) -> str | None:
        return f"look at {type(exc).__name__}" if isinstance(exc, KeyError) else None

    eng = make_engine(retry_if=retry_picky, suggest=suggest)

    def job(x: int) -> int:
        if x == 1:
            raise KeyError("k")
        if x == 2:
            raise GeuseError("own", suggestion="its own words")
        if x == 3:
            raise ValueError("nothing to say")
        return x

    said = {r["key"]: r["suggestion"] for r in eng.pmap(job, [0, 1, 2, 3]).rows()}
    assert said == {0: None, 1: "look at KeyError",
                    2: "its own words",  # suggest said None: the error's own
                    3: None}


def test_a_broken_suggest_policy_keeps_the_results(make_engine: Callable[..., Engine]) -> None:
    def suggest(exc: BaseException) -> str | None:
        raise RuntimeError("policy bug")

    eng = make_engine(retry_if=retry_picky, suggest=suggest)
    results = eng.pmap(lambda x: 1 / x, [0, 1])
    assert results.statuses == {0: "failed", 1: "done"} and results[1] == 1.0


def test_statuses_are_job_status_everywhere(make_engine: Callable[..., Engine]) -> None:
    eng = make_engine(retry_if=retry_picky, suggest=lambda _: None)
    results = eng.jobs({"a": lambda: 1, "b": lambda: 1 / 0, "c": (lambda b: b, ["b"])})
    assert results.statuses == {"a": JobStatus.DONE, "b": JobStatus.FAILED,
                                "c": JobStatus.SKIPPED}
    assert all(type(s) is JobStatus for s in results.statuses.values())
    assert all(type(r["status"]) is JobStatus for r in eng.recorder.rows("jobs"))
    assert all(type(o.status) is JobStatus for o in results.outcomes)


def test_the_engine_imports_nothing_of_aws() -> None:
    folder = Path(engine_pkg.__file__).parent
    offenders = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.startswith(("..aws", "geuse_nb.aws", "..kit", "geuse_nb.kit")) or (
                        name in ("..", "geuse_nb") and isinstance(node, ast.ImportFrom)
                        and any(a.name in ("aws", "kit") for a in node.names)):
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []
    assert len(list(folder.glob("*.py"))) >= 10  # the walk saw the split modules
