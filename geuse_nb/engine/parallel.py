"""The parallel engine: ``pmap`` (joblib) and ``jobs`` (a DAG of named jobs), with
retries, per-job timeouts, cancellation, a live status line and one ``jobs`` row per job.
The ``jobs`` spec is parsed and checked in ``dag``; what a run returns is in ``jobresults``.

How a map runs (threads backend, the default for IO-bound AWS work):

- a *driver* thread runs ``joblib.Parallel(return_as="generator_unordered")`` over the
  items; each task is a ``_JobRunner`` call that posts ``start``/``retry``/``end`` events
  to a queue;
- the ``Parallel`` object stays open (joblib's documented worker reuse: ``with
  Parallel(...)``) and is kept by the Engine per worker count, so successive maps reuse
  its threads instead of starting and joining a pool each time (most of a small map's
  fixed cost). One map at a time uses a given pool; a map started from inside a job
  (nested) gets a fresh pool of its own, so it never waits for its parent's workers.
  ``Engine.close()`` stops and joins the kept pools;
- the calling thread only reads that queue. It updates the status line as jobs finish,
  enforces timeouts and reacts to cancellation, so it never blocks inside joblib:
  Ctrl-C in a notebook lands here and finished work is kept.

Honest limits (a Python thread cannot be killed):

- ``timeout`` bounds each *attempt*. An attempt that overruns ends its job as
  ``"timed_out"`` (never retried: its thread is still busy) and the map goes on with
  the other workers; the overrunning call keeps its thread until it returns (AWS calls
  are bounded by botocore's read timeout). ``Engine.close()`` joins such threads for at
  most ``close_timeout`` seconds and logs the ones still running; they are daemon threads
  (the DAG's are not: a truly hung DAG job holds interpreter exit).
- if every worker holds a timed-out attempt, jobs not yet started are marked
  ``"cancelled"`` (error says why) rather than waiting forever.
- ``cancel()`` (or Ctrl-C) returns at once: jobs not started are ``"cancelled"``,
  running ones are marked ``"cancelled"`` and abandoned (their late results are dropped),
  finished ones keep their values. On Ctrl-C the partial ``JobResults`` is *returned*
  (``.cancelled is True``, and a warning is logged) so finished work is not lost; if no
  job had finished, the ``KeyboardInterrupt`` is re-raised (nothing to keep, and the cell
  stops as the user asked). ``engine.last_results`` holds the latest results either way.

Dask (``backend="dask"`` or ``joblib.parallel_config("dask")``): tasks are a module-level
``_JobRunner`` object and the user's function, pickled by reference, so keep functions
(and whatever builds clients) in an importable module, not in ``__main__``. There, the
timeout is enforced inside the worker (the attempt runs in a daemon thread there) and
cancellation stops waiting and marks jobs ``"cancelled"``; joblib cancels the pending
futures.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import os
import pickle
import queue
import random
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.pool import ThreadPool
from typing import TYPE_CHECKING, Any

from joblib.parallel import ThreadingBackend

from ..aws.errors import is_retryable
from ..errors import GeuseError, MissingDependencyError, UsageError
from .dag import Graph, parse_spec
from .results import JobResults, Outcome, pmap_keys

if TYPE_CHECKING:
    from ..config import Settings
    from ..observe.metrics import Recorder
    from ..observe.progress import Progress

log = logging.getLogger(__name__)

BACKENDS = ("threads", "dask")
KEPT_POOLS = 4  # idle joblib pools an Engine keeps open between maps (≤ 2 per worker count)
_POOL_WAIT = 1.0  # s a map waits for the previous map's pool to be handed back
_IN_JOB = threading.local()  # ``depth`` > 0 while this thread runs a job: a nested map


# ---------------------------------------------------------------- policy helpers
@dataclasses.dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits ``rand() × min(cap, base × 2ⁿ⁻¹)``.

    ``sleep`` and ``rand`` are injectable for tests; with ``sleep=None`` the wait is
    interruptible by cancellation.
    """

    base: float = 0.2
    cap: float = 10.0
    rand: Callable[[], float] = random.random
    sleep: Callable[[float], Any] | None = None

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return self.rand() * min(self.cap, self.base * (2 ** (attempt - 1)))


def auto_workers(cpus: int | None = None) -> int:
    """Worker count for IO-bound work from the CPU count: ``min(32, 4 × cpus + 4)``."""
    cpus = cpus or os.cpu_count() or 1
    return min(32, 4 * cpus + 4)


def _context() -> tuple[str | None, int | None]:
    """The backend ("dask"/None) and n_jobs set by an enclosing ``joblib.parallel_config``."""
    from joblib.parallel import get_active_backend

    backend, n_jobs = get_active_backend()  # prefer="threads" would force n_jobs=1
    name = "dask" if type(backend).__name__ == "DaskDistributedBackend" else None
    return name, n_jobs


def resolve_workers(n_jobs: int | None, settings: Settings, n_items: int, *,
                    context_n_jobs: int | None = None) -> int:
    """Worker count, resolved like joblib: explicit, then context, then settings, then auto.

    An explicit or context ``n_jobs`` is taken as asked (``-1`` means all CPUs, as in
    joblib). ``settings.parallel_max_workers`` and the automatic count are capped at
    ``settings.pool_max_connections`` (the pool's per-endpoint limit: more threads than
    connections only queue on the pool). Always capped by the number of items, ≥ 1.
    """
    count = _wanted_workers(n_jobs, settings, context_n_jobs)
    return max(1, min(count, max(n_items, 1)))


def _wanted_workers(n_jobs: int | None, settings: Settings, context_n_jobs: int | None) -> int:
    """Worker count before the cap by the number of items (the size of a kept pool)."""
    chosen = n_jobs if n_jobs is not None else context_n_jobs
    if chosen is not None:
        _check_n_jobs(chosen)
        return (os.cpu_count() or 1) if chosen == -1 else chosen
    count = settings.parallel_max_workers or auto_workers()
    return max(1, min(count, settings.pool_max_connections))


def _check_n_jobs(n_jobs: object) -> None:
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or (n_jobs < 1 and n_jobs != -1):
        raise UsageError(f"n_jobs={n_jobs!r} is not valid",
                         suggestion="pass a whole number ≥ 1, -1 for all CPUs, or None for auto")


def _check_common(retries: int | None, timeout: float | None, settings: Settings,
                  n_jobs: int | None) -> tuple[int, float | None]:
    if n_jobs is not None:
        _check_n_jobs(n_jobs)
    if retries is None:
        retries = settings.parallel_retry_count
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise UsageError(f"retries={retries!r} is not valid",
                         suggestion="pass a whole number ≥ 0 (0 = no retry)")
    if timeout is None:
        timeout = settings.parallel_job_timeout
    elif isinstance(timeout, bool) or not isinstance(timeout, int | float) or not (
            timeout > 0 and math.isfinite(timeout)):
        raise UsageError(f"timeout={timeout!r} is not valid",
                         suggestion="pass seconds > 0, or None for settings.parallel_job_timeout")
    return retries, timeout


# ---------------------------------------------------------------- one job
def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a GeuseError carrying its text (for Dask)."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return GeuseError(f"{type(exc).__name__}: {exc}",
                          suggestion=getattr(exc, "suggestion", "") or "")


class _JobRunner:
    """Runs one job with retries: a module-level, picklable callable (Dask needs that).

    In-process (threads) the runner posts events to the map's queue and honours its
    cancel event; the calling thread enforces timeouts. Out of process (Dask) it enforces
    the timeout itself and returns an ``Outcome``.
    """

    def __init__(self, retries: int, timeout: float | None, backoff: Backoff, *,
                 post: Callable[[tuple[Any, ...]], None] | None = None,
                 cancel: threading.Event | None = None) -> None:
        self.retries = retries
        self.timeout = timeout
        self.backoff = backoff
        self.post = post
        self.cancel = cancel

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(post=None, cancel=None)  # queues and events stay in this process
        return state

    def __call__(self, index: int, call: Callable[[], Any]) -> Outcome | None:
        out = Outcome(index)
        post, cancel = self.post, self.cancel
        while True:
            if cancel is not None and cancel.is_set():
                out.status = out.status or "cancelled"
                break
            out.attempts += 1
            now = time.time()
            if out.started is None:
                out.started = now
            if post is not None:
                post(("start", index, out.attempts, time.monotonic(), now))
            try:
                out.value = _in_job(call) if post is not None else self._bounded(call)
            except BaseException as exc:  # a job's failure is data, not a crash of the map
                if isinstance(exc, _AttemptTimeout):
                    out.status, out.error = "timed_out", exc
                    break
                if not isinstance(exc, Exception):
                    raise
                out.error = exc
                if out.attempts > self.retries or not is_retryable(exc):
                    out.status = "failed"
                    break
                delay = self.backoff.delay(out.attempts)
                if post is not None:
                    post(("retry", index, out.attempts, delay))
                if self.backoff.sleep is not None:
                    self.backoff.sleep(delay)
                elif cancel is not None:
                    cancel.wait(delay)
                else:
                    time.sleep(delay)
                continue
            out.status, out.error = "done", None
            break
        out.ended = time.time()
        if post is not None:
            post(("end", out))
            return None
        if out.error is not None:
            out.error = _portable(out.error)
        return out

    def _bounded(self, call: Callable[[], Any]) -> Any:
        """Run ``call`` in a daemon thread and wait at most ``timeout`` (out-of-process)."""
        if self.timeout is None:
            return call()
        box: dict[str, Any] = {}
        finished = threading.Event()

        def attempt() -> None:
            try:
                box["value"] = call()
            except BaseException as exc:
                box["error"] = exc
            finished.set()

        threading.Thread(target=attempt, name="geuse-attempt", daemon=True).start()
        if not finished.wait(self.timeout):
            raise _AttemptTimeout(f"attempt exceeded the {self.timeout:g} s job timeout")
        if "error" in box:
            raise box["error"]
        return box["value"]


class _AttemptTimeout(GeuseError, TimeoutError):
    """An attempt ran past the job timeout."""

    suggestion = "raise timeout= (or settings.parallel_job_timeout), or look at why it hangs"


def _call_item(fn: Callable[[Any], Any], item: Any) -> Any:
    return fn(item)


def _in_job(call: Callable[[], Any]) -> Any:
    """Run ``call`` flagged as a job on this thread, so a map it starts knows it is nested."""
    _IN_JOB.depth = getattr(_IN_JOB, "depth", 0) + 1
    try:
        return call()
    finally:
        _IN_JOB.depth -= 1


# ---------------------------------------------------------------- thread pools
class _NamedThreadingBackend(ThreadingBackend):
    """joblib's threading backend whose pool names its workers and reports each one.

    The report lets the Engine join a kept pool's threads at ``close()``, including
    workers that never ran a job; the names show up in thread dumps and leak reports.
    """

    def __init__(self, name: str, on_thread: Callable[[threading.Thread], None],
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._name = name
        self._on_thread = on_thread
        self._count = 0
        self._count_lock = threading.Lock()

    def _get_pool(self) -> ThreadPool:
        if self._pool is None:  # same lazy start as ThreadingBackend, plus an initializer
            self._pool = ThreadPool(self._n_jobs, initializer=self._started)
        return self._pool

    def _started(self) -> None:
        thread = threading.current_thread()
        with self._count_lock:
            self._count += 1
            thread.name = f"{self._name}-{self._count}"
        self._on_thread(thread)


class _Pool:
    """One open ``joblib.Parallel`` over ``size`` worker threads; runs one map at a time.

    ``kept`` pools go back to the Engine after a map and serve later ones; the others
    (nested maps, one worker) are closed by their driver when the map ends.
    """

    def __init__(self, size: int, kept: bool,
                 on_thread: Callable[[threading.Thread], None]) -> None:
        self.size = size
        self.kept = kept
        self.on_thread = on_thread
        self.finishing = False  # its map has returned; the driver is handing it back
        self.owner: _Run | None = None  # the run it is checked out to
        self.parallel: Any = None

    def open(self) -> Any:
        """The ``Parallel`` object, built on first use (in a driver thread, so that the
        caller's ``parallel_config`` is not baked into a pool that outlives the call)."""
        if self.parallel is None:
            from joblib import Parallel

            backend = _NamedThreadingBackend(f"geuse-pool{self.size}", self.on_thread)
            parallel = Parallel(n_jobs=self.size, backend=backend,
                                return_as="generator_unordered", batch_size=1)
            parallel.__enter__()
            self.parallel = parallel
        return self.parallel

    def close(self) -> None:
        """Stop the worker threads (they exit once idle; the Engine joins them)."""
        parallel, self.parallel = self.parallel, None
        if parallel is not None:
            parallel.__exit__(None, None, None)


# ---------------------------------------------------------------- one run
class _Run:
    """The calling thread's view of one map: events in, outcomes and status line out."""

    def __init__(self, engine: Engine, name: str, n: int, workers: int,
                 timeout: float | None, desc: str | None) -> None:
        self.engine = engine
        self.name = name
        self.workers = workers
        self.timeout = timeout
        self.events: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self.cancel = threading.Event()
        self.outcomes = [Outcome(i) for i in range(n)]
        self.unresolved = n
        self.running: dict[int, float] = {}  # index -> monotonic start of current attempt
        self.retrying: set[int] = set()
        self.zombies: set[int] = set()  # resolved by us but still running in a worker
        self.counts = dict.fromkeys(("done", "failed", "cancelled"), 0)
        self.interrupted = False
        self.driver_done = False
        self.crash: BaseException | None = None
        self.on_resolved: Callable[[Outcome], None] | None = None
        self.finish: Callable[[], None] | None = None
        self.threads: set[threading.Thread] = set()
        self.kept_pool = False  # its workers belong to a pool the Engine keeps: not joined
        self.status = engine.progress.status(desc or name, n)
        self.drawn = 0.0
        self.dirty = False

    # ------------------------------------------------ events
    def resolve(self, out: Outcome, status: str, error: BaseException | None = None) -> None:
        if out.status is not None:
            return
        out.status = status
        if error is not None:
            out.error = error
        if out.ended is None:
            out.ended = time.time()
        self.unresolved -= 1
        self.running.pop(out.index, None)
        self.retrying.discard(out.index)
        bucket = {"done": "done", "failed": "failed", "timed_out": "failed"}.get(status,
                                                                                 "cancelled")
        self.counts[bucket] += 1
        if self.on_resolved is not None:
            self.on_resolved(out)

    def handle(self, event: tuple[Any, ...]) -> None:
        kind = event[0]
        if kind == "start":
            _, index, attempts, mono, wall = event
            if self.outcomes[index].status is None:
                self.running[index] = mono
                self.retrying.discard(index)
                self.outcomes[index].attempts = attempts
                if self.outcomes[index].started is None:
                    self.outcomes[index].started = wall
        elif kind == "retry":
            _, index, attempts, _delay = event
            if self.outcomes[index].status is None:
                self.running.pop(index, None)
                self.retrying.add(index)
        elif kind == "end":
            late: Outcome = event[1]
            if late.index in self.zombies:
                self.zombies.discard(late.index)
                return
            mine = self.outcomes[late.index]
            if mine.status is not None:
                return
            mine.value, mine.attempts = late.value, late.attempts
            mine.started, mine.ended = late.started, late.ended
            self.resolve(mine, late.status or "cancelled", late.error)
        elif kind == "driver_done":
            self.driver_done = True
        elif kind == "crash":
            self.crash = event[1]
            self.driver_done = True

    def draw(self, *, force: bool = False) -> None:
        """Refresh the status line, at most every 20 ms (events come far faster)."""
        now = time.monotonic()
        if not force and now - self.drawn < 0.02:
            self.dirty = True  # drawn by the wait loop within 20 ms
            return
        self.drawn, self.dirty = now, False
        self.status.update(done=self.counts["done"], failed=self.counts["failed"],
                           cancelled=self.counts["cancelled"], running=len(self.running),
                           retrying=len(self.retrying))

    # ------------------------------------------------ the wait loop
    def collect(self) -> None:
        """Read events until every job is resolved (or cancelled, or the driver died)."""
        while self.unresolved:
            if self.cancel.is_set():
                self._drain()
                self._give_up("cancelled", "cancelled before it finished")
                break
            if self.driver_done and self.events.empty():
                why = self.crash or GeuseError("the parallel backend stopped early")
                self._give_up("failed", None, error=why)
                break
            try:
                event = self.events.get(timeout=self._next_deadline())
            except queue.Empty:
                event = None
                if self.dirty:
                    self.draw(force=True)
            except KeyboardInterrupt:
                self.interrupted = True
                self.cancel.set()
                continue
            if event is not None:
                self.handle(event)
                self.draw()
            if self.timeout is not None and self.running:
                self._expire()
            if len(self.zombies) >= self.workers and self.unresolved and not (
                    self.running or self.retrying):
                self._give_up("cancelled", f"not started: all {self.workers} workers are "
                              "held by jobs that timed out")

    def _drain(self) -> None:
        while True:
            try:
                self.handle(self.events.get_nowait())
            except queue.Empty:
                return

    def _next_deadline(self) -> float:
        wait = 0.02 if self.dirty else 0.25  # 0.25: cancel()/driver death noticed by then
        if self.timeout is not None and self.running:
            first = min(self.running.values()) + self.timeout
            wait = min(wait, max(0.0, first - time.monotonic()))
        return wait

    def _expire(self) -> None:
        now = time.monotonic()
        if self.timeout is None or now - min(self.running.values()) < self.timeout:
            return
        for index, began in list(self.running.items()):
            if now - began >= self.timeout:
                out = self.outcomes[index]
                self.zombies.add(index)
                self.resolve(out, "timed_out", _AttemptTimeout(
                    f"attempt {out.attempts} ran past the {self.timeout:g} s job timeout"))
        self.draw()

    def _give_up(self, status: str, text: str | None, *,
                 error: BaseException | None = None) -> None:
        for out in self.outcomes:
            if out.status is None:
                if out.index in self.running:
                    self.zombies.add(out.index)
                self.resolve(out, status, error or GeuseError(text or status))
        self.draw()


# ---------------------------------------------------------------- the engine
class Engine:
    """Parallel maps and job graphs for one Kit. ``close()`` cancels and joins its threads."""

    def __init__(self, settings: Settings, *, progress: Progress, recorder: Recorder,
                 backoff: Backoff | None = None, close_timeout: float = 5.0) -> None:
        self.settings = settings
        self.progress = progress
        self.recorder = recorder
        self.backoff = backoff or Backoff()
        self.close_timeout = close_timeout
        self.last_results: JobResults | None = None
        self._lock = threading.Lock()
        self._active: set[_Run] = set()
        self._threads: set[threading.Thread] = set()
        self._closed = False
        self._idle: list[_Pool] = []  # kept pools between maps, least recently used first
        self._busy: set[_Pool] = set()  # kept pools running a map
        self._handed_back = threading.Condition(self._lock)

    # ------------------------------------------------ pmap
    def pmap(self, fn: Callable[[Any], Any], items: Iterable[Any], *, desc: str | None = None,
             n_jobs: int | None = None, retries: int | None = None,
             timeout: float | None = None, backend: str | None = None) -> JobResults:
        """Run ``fn(item)`` for every item in parallel; values come back in input order.

        Threads by default (IO-bound work); ``backend="dask"`` (or an enclosing
        ``joblib.parallel_config("dask")``) runs on the current dask.distributed client.
        Retryable failures (throttling, 5xx, timeouts, dropped connections) are retried
        ``retries`` times with jittered backoff; others fail the job at once.
        """
        self._check_open()
        if not callable(fn):
            raise UsageError(f"fn={fn!r} is not callable",
                             suggestion="pass a function taking one item")
        if isinstance(items, str | bytes) or not isinstance(items, Iterable):
            raise UsageError(f"items of type {type(items).__name__} are not a collection",
                             suggestion="pass a list (or any iterable) of items")
        if backend is not None and backend not in BACKENDS:
            raise UsageError(f"backend={backend!r} is not valid",
                             suggestion="use one of " + ", ".join(BACKENDS) + ", or None")
        retries, timeout = _check_common(retries, timeout, self.settings, n_jobs)
        items = list(items)
        ctx_backend, ctx_n_jobs = _context()
        backend = backend or ctx_backend or "threads"
        wanted = _wanted_workers(n_jobs, self.settings, ctx_n_jobs)
        workers = max(1, min(wanted, len(items)))
        if backend == "dask":
            _require_dask()
        name = desc or getattr(fn, "__name__", None) or "pmap"
        keys = pmap_keys(items)
        calls = [functools.partial(_call_item, fn, item) for item in items]
        if backend == "dask":
            return self._run(name, keys, workers, timeout, desc,
                             lambda run: self._start_dask(run, calls, retries, timeout, workers))
        # A kept pool is sized as asked, not by this map's item count, so that maps of
        # different lengths share it; a map of n < size items still runs n at a time.
        size = wanted if wanted <= 64 else workers
        return self._run(name, keys, workers, timeout, desc,
                         lambda run: self._start_threads(run, calls, retries, timeout, size))

    def _start_threads(self, run: _Run, calls: list[Callable[[], Any]], retries: int,
                       timeout: float | None, size: int) -> None:
        from joblib import delayed

        runner = _JobRunner(retries, timeout, self.backoff, post=run.events.put,
                            cancel=run.cancel)
        tasks = (delayed(runner)(i, call) for i, call in enumerate(calls))

        def drive() -> None:
            broken = False
            try:
                for _ in pool.open()(tasks):
                    pass  # the runners post their outcomes themselves
            except BaseException as exc:
                broken = True  # joblib aborted: do not hand this pool to another map
                run.events.put(("crash", exc))
            finally:
                run.events.put(("driver_done",))
                self._hand_back(pool, broken=broken)

        pool = self._checkout(run, size)
        try:
            run.kept_pool = pool.kept
            run.finish = lambda: self._finishing(pool, run)
            thread = threading.Thread(target=drive, name=f"geuse-pmap-{run.name}",
                                      daemon=True)
            self._adopt(run, thread)
            thread.start()
        except BaseException:  # e.g. Ctrl-C right here: the pool must not stay checked out
            self._hand_back(pool, broken=True)
            raise

    def _start_dask(self, run: _Run, calls: list[Callable[[], Any]], retries: int,
                    timeout: float | None, workers: int) -> None:
        from joblib import Parallel, delayed, parallel_config

        runner = _JobRunner(retries, timeout, self.backoff)
        tasks = (delayed(runner)(i, call) for i, call in enumerate(calls))

        def drive() -> None:
            # Parallel is built here, outside any parallel_config of the caller's thread:
            # the caller's context was already resolved into ``workers``.
            try:
                with parallel_config(backend="dask"):  # registers joblib's dask backend
                    parallel = Parallel(n_jobs=workers, return_as="generator_unordered")
                for out in parallel(tasks):
                    if out is not None:
                        run.events.put(("end", out))
                    if run.cancel.is_set():
                        break  # joblib cancels the pending dask futures
            except BaseException as exc:
                run.events.put(("crash", exc))
            finally:
                run.events.put(("driver_done",))

        thread = threading.Thread(target=drive, name=f"geuse-pmap-{run.name}", daemon=True)
        self._adopt(run, thread)
        thread.start()

    # ------------------------------------------------ kept pools
    def _checkout(self, run: _Run, size: int) -> _Pool:
        """A pool of ``size`` workers for ``run``: an idle kept one, else a new one.

        A nested map (called from inside a job) and a one-worker map get a pool of their
        own, closed when the map ends. A pool comes back up to 10 ms after its map returned
        (joblib's result loop polls every 10 ms), so back-to-back maps alternate between two
        pools of a size; with two busy, a map waits for one whose map has returned.
        """
        if size < 2 or getattr(_IN_JOB, "depth", 0):
            return _Pool(size, False, lambda t: self._adopt(run, t))
        deadline = time.monotonic() + _POOL_WAIT
        with self._handed_back:
            while True:
                for pool in reversed(self._idle):
                    if pool.size == size:
                        self._idle.remove(pool)
                        break
                else:
                    busy = [p for p in self._busy if p.size == size]
                    left = deadline - time.monotonic()
                    if len(busy) >= 2 and left > 0 and any(p.finishing for p in busy):
                        self._handed_back.wait(left)
                        continue
                    pool = _Pool(size, True, self._track)
                pool.finishing, pool.owner = False, run
                self._busy.add(pool)
                return pool

    def _finishing(self, pool: _Pool, run: _Run) -> None:
        """``run`` has returned: its pool comes back soon unless a job still holds a worker."""
        if pool.kept and not run.zombies:
            with self._lock:
                if pool in self._busy and pool.owner is run:  # not yet back, nor reused
                    pool.finishing = True

    def _hand_back(self, pool: _Pool, *, broken: bool) -> None:
        """Keep ``pool`` for the next map (at most ``KEPT_POOLS``, 2 per size) or close it."""
        doomed = []
        with self._handed_back:
            self._busy.discard(pool)
            pool.finishing, pool.owner = False, None
            if pool.kept and not broken and not self._closed:
                self._idle.append(pool)
                same = [p for p in self._idle if p.size == pool.size]
                doomed = same[:-2]
                doomed += [p for p in self._idle if p not in doomed][:-KEPT_POOLS]
                self._idle = [p for p in self._idle if p not in doomed]
            else:
                doomed = [pool]
            self._handed_back.notify_all()
        for dead in doomed:
            dead.close()

    # ------------------------------------------------ jobs (a DAG)
    def jobs(self, spec: Mapping[str, Any], *, desc: str | None = None,
             n_jobs: int | None = None, retries: int | None = None,
             timeout: float | None = None) -> JobResults:
        """Named jobs with dependencies: ``{"vpc": make_vpc, "sg": (make_sg, ["vpc"])}``.

        A job starts once all its dependencies are done; independent jobs run in parallel.
        A job that takes parameters receives its dependencies' values as keyword arguments
        named after them (``def make_sg(vpc): ...``, or ``**deps``); one that takes none is
        called with none. Dependents of a failed or timed-out job are ``"skipped"`` (the
        error names the dependency); a cycle or an unknown dependency is a ``UsageError``
        before anything starts.
        """
        self._check_open()
        retries, timeout = _check_common(retries, timeout, self.settings, n_jobs)
        graph = parse_spec(spec)
        names = list(graph)
        _, ctx_n_jobs = _context()
        workers = resolve_workers(n_jobs, self.settings, len(names), context_n_jobs=ctx_n_jobs)
        name = desc or "jobs"
        return self._run(name, names, workers, timeout, desc,
                         lambda run: self._start_dag(run, graph, retries, timeout, workers))

    def _start_dag(self, run: _Run, graph: Graph,
                   retries: int, timeout: float | None, workers: int) -> None:
        names = list(graph)
        index = {n: i for i, n in enumerate(names)}
        dependents: dict[str, list[str]] = {n: [] for n in names}
        for n, (_, deps, _) in graph.items():
            for d in set(deps):
                dependents[d].append(n)
        waiting = {n: len(set(deps)) for n, (_, deps, _) in graph.items()}
        runner = _JobRunner(retries, timeout, self.backoff, post=run.events.put,
                            cancel=run.cancel)
        executor = ThreadPoolExecutor(workers, thread_name_prefix=f"geuse-jobs-{run.name}",
                                      initializer=lambda: self._adopt(run))

        def submit(n: str) -> None:
            fn, deps, pass_deps = graph[n]
            kwargs = {d: run.outcomes[index[d]].value for d in deps} if pass_deps else {}
            executor.submit(runner, index[n], functools.partial(fn, **kwargs))

        def on_resolved(out: Outcome) -> None:
            n = names[out.index]
            for child in dependents[n]:
                if out.status == "done":
                    waiting[child] -= 1
                    if waiting[child] == 0 and run.outcomes[index[child]].status is None:
                        submit(child)
                elif run.outcomes[index[child]].status is None:
                    cancelled = out.status == "cancelled"
                    verb = {"failed": "failed", "timed_out": "timed out"}.get(
                        out.status or "", out.status or "cancelled")
                    error = GeuseError(
                        f"skipped: dependency {n!r} {verb}",
                        suggestion=f"fix {n!r} and run again")
                    run.resolve(run.outcomes[index[child]],
                                "cancelled" if cancelled else "skipped", error)

        run.on_resolved = on_resolved
        run.finish = lambda: executor.shutdown(wait=False, cancel_futures=True)
        for n in names:
            if waiting[n] == 0:
                submit(n)

    # ------------------------------------------------ shared plumbing
    def _run(self, name: str, keys: list[Hashable], workers: int, timeout: float | None,
             desc: str | None, start: Callable[[_Run], None]) -> JobResults:
        run = _Run(self, name, len(keys), workers, timeout, desc)
        with self._lock:
            self._active.add(run)
        try:
            if keys:
                start(run)
                run.collect()
        finally:
            with self._lock:
                self._active.discard(run)
            run.cancel.set()  # anything still queued returns at once
            run.draw(force=True)
            if run.finish is not None:
                run.finish()
            run.status.close()
        if run.crash is not None and not run.counts["done"] and not run.interrupted:
            raise run.crash
        results = JobResults(name, keys, run.outcomes,
                             cancelled=run.interrupted or any(
                                 o.status == "cancelled" for o in run.outcomes))
        self.last_results = results
        for row in results.rows():
            self.recorder.add("jobs", row)
        if not run.zombies and not run.kept_pool:
            self._reap(1.0, run.threads)
        if run.interrupted:
            if not run.counts["done"]:
                raise KeyboardInterrupt
            log.warning("%r interrupted: returning %d finished of %d jobs "
                        "(JobResults.cancelled is True)", name, run.counts["done"], len(keys))
        return results

    def _adopt(self, run: _Run, thread: threading.Thread | None = None) -> None:
        """Track a thread working for ``run`` (default: the calling one) so close() joins it."""
        thread = thread or threading.current_thread()
        self._track(thread)
        with self._lock:
            run.threads.add(thread)

    def _track(self, thread: threading.Thread) -> None:
        """Track a thread of the engine (a kept pool's worker, a driver) so close() joins it."""
        with self._lock:
            if len(self._threads) > 256:  # forget finished drivers and closed pools' workers
                self._threads = {t for t in self._threads if t.is_alive()}
            self._threads.add(thread)

    def _reap(self, bound: float, threads: Iterable[threading.Thread] | None = None,
              ) -> list[threading.Thread]:
        """Join threads (default: all of the engine's) for at most ``bound`` s; return the rest."""
        deadline = time.monotonic() + bound
        with self._lock:
            threads = list(self._threads if threads is None else threads)
        left = []
        for thread in threads:
            if thread is threading.current_thread():
                continue
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                left.append(thread)
            else:
                with self._lock:
                    self._threads.discard(thread)
        return left

    def _check_open(self) -> None:
        if self._closed:
            raise UsageError("the parallel engine is closed", suggestion="create a new Kit")

    def cancel(self) -> None:
        """Cancel every map running now (callable from any thread); they return within 1 s."""
        with self._lock:
            runs = list(self._active)
        for run in runs:
            run.cancel.set()

    def close(self) -> None:
        """Cancel running maps, stop the kept pools and join the engine's threads (at most
        ``close_timeout`` s). A pool busy with a map is stopped by its driver when done."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        self.cancel()
        for pool in idle:
            pool.close()
        left = self._reap(self.close_timeout)
        if left:
            log.warning("%d job thread(s) still running after %g s (timed-out or "
                        "cancelled calls that have not returned): %s", len(left),
                        self.close_timeout, ", ".join(t.name for t in left))


def _require_dask() -> None:
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        raise MissingDependencyError("dask", "dask") from None
