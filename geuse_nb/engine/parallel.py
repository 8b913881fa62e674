"""The parallel engine: ``pmap`` (one function over items) and ``jobs`` (a DAG of named
jobs), with retries, per-job timeouts, cancellation, a live status line and one ``jobs``
row per job. This module is the facade; each part has a module of its own:

- ``_policy``: backoff and worker counts, and the argument checks;
- ``_runner``: one job's attempts, retries (``retry_if``) and, remotely, its timeout;
- ``_events`` and ``_run``: the run loop in the calling thread, fed by frozen events;
- ``_backends``: the ``EngineBackend`` interface and its registry; ``_threads`` (kept
  worker pools, ``_pools``), ``_dask`` and ``_processes`` (loky) are registered here;
  the two remote ones bring their workers' metrics rows home with each outcome;
- ``_schedule``: the DAG scheduler (the spec is checked in ``dag``);
- ``_reaper``: the engine's threads, joined with a bound at ``close()``;
- ``results``: what a run returns (``JobResults``).

The engine knows nothing of AWS: whether a failure is worth retrying (``retry_if``) and
what to suggest about an error (``suggest``) are policies the Kit hands in
(``geuse_nb.aws.errors.is_retryable`` / ``suggestion_for``).

How a map runs: the chosen backend starts the jobs and returns at once; the calling
thread only reads the run's event queue. It updates the status line as jobs finish,
enforces timeouts and reacts to cancellation, so it never blocks inside joblib or Dask:
Ctrl-C in a notebook lands here and finished work is kept.

Honest limits (a Python thread cannot be killed):

- ``timeout`` bounds each *attempt*. An attempt that overruns ends its job as
  ``timed_out`` (never retried: its thread is still busy) and the map goes on with
  the other workers; the overrunning call keeps its thread until it returns (AWS calls
  are bounded by botocore's read timeout). ``Engine.close()`` joins such threads for at
  most ``close_timeout`` seconds and logs the ones still running; they are daemon threads
  (the DAG's are not: a truly hung DAG job holds interpreter exit).
- if every worker holds a timed-out attempt, jobs not yet started are marked
  ``cancelled`` (error says why) rather than waiting forever.
- ``cancel()`` (or Ctrl-C) returns at once: jobs not started are ``cancelled``,
  running ones are marked ``cancelled`` and abandoned (their late results are dropped),
  finished ones keep their values. On Ctrl-C the partial ``JobResults`` is *returned*
  (``.cancelled is True``, and a warning is logged) so finished work is not lost; if no
  job had finished, the ``KeyboardInterrupt`` is re-raised (nothing to keep, and the cell
  stops as the user asked). ``engine.last_results`` holds the latest results either way.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import GeuseError, UsageError
from ..states import JobStatus
from ._backends import (
    DEFAULT_BACKEND,
    EngineBackend,
    backend_class,
    context_backend,
    register_backend,
)
from ._dask import DaskBackend
from ._policy import Backoff, auto_workers, check_common, resolve_workers, wanted_workers
from ._processes import ProcessBackend
from ._reaper import ThreadReaper
from ._run import Run
from ._runner import JobRunner, call_item
from ._schedule import start_graph
from ._threads import ThreadsBackend
from .dag import parse_spec
from .results import JobResults, pmap_keys

if TYPE_CHECKING:
    from ..config import Settings
    from ..observe.metrics import Recorder
    from ..observe.progress import Progress

__all__ = ["Backoff", "Engine", "EngineBackend", "auto_workers", "register_backend",
           "resolve_workers"]

log = logging.getLogger(__name__)

register_backend("threads", ThreadsBackend)
register_backend("dask", DaskBackend)
register_backend("processes", ProcessBackend)


class Engine:
    """Parallel maps and job graphs for one Kit. ``close()`` cancels and joins its threads.

    ``retry_if(exc)`` says whether a failed attempt is worth another (it travels to Dask
    workers, so make it a module-level function); ``suggest(exc)`` gives the text of the
    jobs table's ``suggestion`` column (``None``: the error's own ``GeuseError``
    suggestion, if any).
    """

    def __init__(self, settings: Settings, *, progress: Progress, recorder: Recorder,
                 retry_if: Callable[[BaseException], bool],
                 suggest: Callable[[BaseException], str | None],
                 backoff: Backoff | None = None, close_timeout: float = 5.0) -> None:
        self.settings = settings
        self.progress = progress
        self.recorder = recorder
        self.retry_if = retry_if
        self.suggest = suggest
        self.backoff = backoff or Backoff()
        self.close_timeout = close_timeout
        self.last_results: JobResults | None = None
        self._lock = threading.Lock()
        self._active: set[Run] = set()
        self._backends: dict[type[EngineBackend], EngineBackend] = {}
        self._reaper = ThreadReaper()
        self._closed = False

    # ------------------------------------------------ pmap
    def pmap(self, fn: Callable[[Any], Any], items: Iterable[Any], *, desc: str | None = None,
             n_jobs: int | None = None, retries: int | None = None,
             timeout: float | None = None, backend: str | None = None,
             in_flight: int | None = None) -> JobResults:
        """Run ``fn(item)`` for every item in parallel; values come back in input order.

        ``in_flight``: how many jobs may run at once when neither ``n_jobs`` nor a joblib
        context says, from a caller that knows its jobs are requests (``fanout`` sizes
        it by endpoints); without it the CPU-derived rule of ``auto_workers`` applies.

        Threads by default (IO-bound work); ``backend="dask"`` (or an enclosing
        ``joblib.parallel_config("dask")``) runs on the current dask.distributed client;
        any name given to ``register_backend`` works too. Failures ``retry_if`` accepts
        are retried ``retries`` times with jittered backoff; others fail the job at once.
        """
        self._check_open()
        if not callable(fn):
            raise UsageError(f"fn={fn!r} is not callable",
                             suggestion="pass a function taking one item")
        if isinstance(items, str | bytes) or not isinstance(items, Iterable):
            raise UsageError(f"items of type {type(items).__name__} are not a collection",
                             suggestion="pass a list (or any iterable) of items")
        chosen = backend_class(backend) if backend is not None else None
        retries, timeout = check_common(retries, timeout, self.settings, n_jobs)
        items = list(items)
        ctx_backend, ctx_n_jobs = context_backend()
        if chosen is None:
            chosen = backend_class(ctx_backend or DEFAULT_BACKEND)
        impl = self._backend(chosen)
        if in_flight is not None and n_jobs is None and ctx_n_jobs is None:
            workers = max(1, min(in_flight, len(items)))
            # every job in flight: the shared kept pool (n items run n at a time), so
            # fan-outs of other sizes do not each start a pool of their own
            wanted = self.settings.parallel_max_in_flight if workers == len(items) else workers
        else:
            wanted = wanted_workers(n_jobs, self.settings, ctx_n_jobs)
            workers = max(1, min(wanted, len(items)))
        name = desc or getattr(fn, "__name__", None) or "pmap"
        calls = [functools.partial(call_item, fn, item) for item in items]
        return self._run(name, pmap_keys(items), desc, retries, timeout, workers, wanted,
                         lambda run: impl.start(run, calls))

    # ------------------------------------------------ jobs (a DAG)
    def jobs(self, spec: Mapping[str, Any], *, desc: str | None = None,
             n_jobs: int | None = None, retries: int | None = None,
             timeout: float | None = None) -> JobResults:
        """Named jobs with dependencies: ``{"vpc": make_vpc, "sg": (make_sg, ["vpc"])}``.

        A job starts once all its dependencies are done; independent jobs run in parallel.
        A job that takes parameters receives its dependencies' values as keyword arguments
        named after them (``def make_sg(vpc): ...``, or ``**deps``); one that takes none is
        called with none. Dependents of a failed or timed-out job are ``skipped`` (the
        error names the dependency); a cycle or an unknown dependency is a ``UsageError``
        before anything starts.
        """
        self._check_open()
        retries, timeout = check_common(retries, timeout, self.settings, n_jobs)
        graph = parse_spec(spec)
        names: list[Hashable] = list(graph)
        _, ctx_n_jobs = context_backend()
        workers = resolve_workers(n_jobs, self.settings, len(names), context_n_jobs=ctx_n_jobs)
        return self._run(desc or "jobs", names, desc, retries, timeout, workers, workers,
                         lambda run: start_graph(run, graph))

    # ------------------------------------------------ one run, start to end
    def _run(self, name: str, keys: list[Hashable], desc: str | None, retries: int,
             timeout: float | None, workers: int, pool_size: int,
             start: Callable[[Run], None]) -> JobResults:
        runner = JobRunner(retries, timeout, self.backoff, self.retry_if)
        run = Run(name, len(keys), workers=workers, pool_size=pool_size, runner=runner,
                  status=self.progress.status(desc or name, len(keys)),
                  reaper=self._reaper, suggest=self._suggestion)
        run.on_rows = self.recorder.merge  # metrics rows remote workers sent home
        with self._lock:
            self._active.add(run)
        try:
            if keys:
                start(run)
                run.collect()
        finally:
            with self._lock:
                self._active.discard(run)
            run.finish()
        if run.crash is not None and not run.counts["done"] and not run.interrupted:
            raise run.crash
        results = JobResults(name, keys, run.outcomes,
                             cancelled=run.interrupted or any(
                                 o.status == JobStatus.CANCELLED for o in run.outcomes))
        self.last_results = results
        for row in results.rows():
            self.recorder.add("jobs", row)
        if not run.zombies and not run.keeps_threads:
            self._reaper.reap(1.0, run.own_threads())
        if run.interrupted:
            if not run.counts["done"]:
                raise KeyboardInterrupt
            log.warning("%r interrupted: returning %d finished of %d jobs "
                        "(JobResults.cancelled is True)", name, run.counts["done"], len(keys))
        return results

    def _suggestion(self, exc: BaseException) -> str | None:
        """The ``suggest`` policy's text for ``exc``, else its own GeuseError suggestion."""
        try:
            said = self.suggest(exc)
        except Exception:  # a broken policy must not lose the run's results
            log.exception("suggest(%r) failed; using the error's own suggestion", exc)
            said = None
        if not said and isinstance(exc, GeuseError):
            said = exc.suggestion
        return said or None

    def _backend(self, cls: type[EngineBackend]) -> EngineBackend:
        """This engine's instance of backend ``cls`` (made and checked on first use)."""
        with self._lock:
            impl = self._backends.get(cls)
        if impl is None:
            made = cls()
            made.check()  # raises before any job; nothing is kept then
            with self._lock:
                impl = self._backends.setdefault(cls, made)
        return impl

    def _check_open(self) -> None:
        if self._closed:
            raise UsageError("the parallel engine is closed", suggestion="create a new Kit")

    # ------------------------------------------------ lifecycle
    def cancel(self) -> None:
        """Cancel every map running now (callable from any thread); they return within 1 s."""
        with self._lock:
            runs = list(self._active)
        for run in runs:
            run.cancel.set()

    def close(self) -> None:
        """Cancel running maps, release the backends' kept resources (idle pools) and join
        the engine's threads (at most ``close_timeout`` s). A pool busy with a map is
        stopped by its driver when done."""
        with self._lock:
            self._closed = True
            backends = list(self._backends.values())
        self.cancel()
        for impl in backends:
            impl.close()
        left = self._reaper.reap(self.close_timeout)
        if left:
            log.warning("%d job thread(s) still running after %g s (timed-out or "
                        "cancelled calls that have not returned): %s", len(left),
                        self.close_timeout, ", ".join(t.name for t in left))
