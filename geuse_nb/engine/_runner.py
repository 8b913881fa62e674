"""One job, start to end: attempts, retries with backoff, and the per-attempt timeout.

``JobRunner`` is a module-level, picklable callable, because Dask pickles it to its
workers. It runs in one of two modes:

- *attached* (threads, DAG): it posts ``Started``/``Retrying``/``Ended`` events to the
  run's queue and honours the run's cancel event; the calling thread enforces timeouts
  (it sees each ``Started``), so a worker never waits on a clock;
- *remote* (Dask): no queue crosses the process boundary, so it enforces the timeout
  itself (the attempt runs in a daemon thread it stops waiting for) and *returns* the
  ``Outcome``, its error made picklable, with the metrics rows recorded in that worker
  process since its previous job (``observe.metrics.worker_rows``) for the driver to
  merge into the notebook's recorder.

Whether a failure is worth another attempt is the ``retry_if`` policy the Engine is
given (the Kit passes ``geuse_nb.aws.errors.is_retryable``): this module knows nothing
of AWS. ``retry_if`` travels to Dask workers with the runner, so it must pickle (a
module-level function does).
"""

from __future__ import annotations

import pickle
import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import GeuseError
from ..observe.metrics import worker_rows
from ..states import JobStatus
from ._events import Ended, Event, Retrying, Started
from ._policy import Backoff
from .results import Outcome

_IN_JOB = threading.local()  # ``depth`` > 0 while this thread runs a job: a nested map


class AttemptTimeout(GeuseError, TimeoutError):
    """An attempt ran past the job timeout."""

    suggestion = "raise timeout= (or settings.parallel_job_timeout), or look at why it hangs"


def nested() -> bool:
    """True on a thread that is running a job (a map started here is nested in it)."""
    return bool(getattr(_IN_JOB, "depth", 0))


class JobRunner:
    """Runs one job with retries (see the module docstring for its two modes)."""

    def __init__(self, retries: int, timeout: float | None, backoff: Backoff,
                 retry_if: Callable[[BaseException], bool], *,
                 post: Callable[[Event], None] | None = None,
                 cancel: threading.Event | None = None) -> None:
        self.retries = retries
        self.timeout = timeout
        self.backoff = backoff
        self.retry_if = retry_if
        self.post = post
        self.cancel = cancel

    def attached(self, post: Callable[[Event], None], cancel: threading.Event) -> JobRunner:
        """The same policy, posting to ``post`` and stopping on ``cancel`` (in-process)."""
        return JobRunner(self.retries, self.timeout, self.backoff, self.retry_if,
                         post=post, cancel=cancel)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(post=None, cancel=None)  # queues and events stay in this process
        return state

    def __call__(self, index: int, call: Callable[[], Any]) -> Outcome | None:
        out = Outcome(index)
        post, cancel = self.post, self.cancel
        while True:
            if cancel is not None and cancel.is_set():
                out.status = out.status or JobStatus.CANCELLED
                break
            out.attempts += 1
            now = time.time()
            if out.started is None:
                out.started = now
            if post is not None:
                post(Started(index, out.attempts, time.monotonic(), now))
            try:
                out.value = _in_job(call) if post is not None else self._bounded(call)
            except BaseException as exc:  # a job's failure is data, not a crash of the map
                if isinstance(exc, AttemptTimeout):
                    out.status, out.error = JobStatus.TIMED_OUT, exc
                    break
                if not isinstance(exc, Exception):
                    raise
                out.error = exc
                if out.attempts > self.retries or not self.retry_if(exc):
                    out.status = JobStatus.FAILED
                    break
                delay = self.backoff.delay(out.attempts)
                if post is not None:
                    post(Retrying(index, out.attempts, delay))
                if self.backoff.sleep is not None:
                    self.backoff.sleep(delay)
                elif cancel is not None:
                    cancel.wait(delay)
                else:
                    time.sleep(delay)
                continue
            out.status, out.error = JobStatus.DONE, None
            break
        out.ended = time.time()
        if post is not None:
            post(Ended(out))
            return None
        if out.error is not None:
            out.error = _portable(out.error)
        out.rows = worker_rows() or None  # this worker's metrics go home with the outcome
        return out

    def _bounded(self, call: Callable[[], Any]) -> Any:
        """Run ``call`` in a daemon thread and wait at most ``timeout`` (remote mode)."""
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
            raise AttemptTimeout(f"attempt exceeded the {self.timeout:g} s job timeout")
        if "error" in box:
            raise box["error"]
        return box["value"]


def call_item(fn: Callable[[Any], Any], item: Any) -> Any:
    """``fn(item)``: a module-level function, so a partial of it pickles by reference."""
    return fn(item)


def _in_job(call: Callable[[], Any]) -> Any:
    """Run ``call`` flagged as a job on this thread, so a map it starts knows it is nested."""
    _IN_JOB.depth = getattr(_IN_JOB, "depth", 0) + 1
    try:
        return call()
    finally:
        _IN_JOB.depth -= 1


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a GeuseError carrying its text (for Dask)."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return GeuseError(f"{type(exc).__name__}: {exc}",
                          suggestion=getattr(exc, "suggestion", "") or "")
