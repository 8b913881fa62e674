"""The resource sampler: a psutil daemon thread writing the recorder's ``resources`` table.

Sampling starts with the kit and at a rate that suits the run's length so far: the wait
before the next sample is ``elapsed / 40``, between ``min_interval`` (0.2 s) and
``interval`` (``settings.metrics_collection_interval``, 5 s by default). A 1 s run gets
~6 samples (the old fixed 5 s rate gave a 3 s run one sample and an empty chart), a 10 s
run ~30, a 10-minute run ~230. One sample costs ~0.14 ms of psutil calls alone (a third
of it ``virtual_memory``) and ~0.3-1 ms between other work, with cold caches: at 0.1 s
(the first floor) a young kit's sampler was 2.5 % of the client CPU of its uncached
calls at RTT 0 (scenario 10, sampler on against off), at 0.2 s half that. Each sample is one row:

- ``cpu_percent``    this process's CPU use since the previous sample (100 = one core busy);
- ``rss_bytes``      this process's resident memory;
- ``memory_percent`` the system's memory in use, %;
- ``disk_read_bytes`` / ``disk_write_bytes``  this process's disk I/O (the system's when the
  process counters are not readable), CUMULATIVE since the sampler started;
- ``net_sent_bytes`` / ``net_recv_bytes``     the system's network traffic, CUMULATIVE since
  the sampler started (psutil has no per-process network counters).

Cumulative counters start at 0, so a chart of them reads as "bytes moved so far" and rates are
``frame.diff() / time.diff()``. A sample is taken on ``start()`` and another on ``close()``,
so even a run shorter than one wait has two points. ``close()`` wakes the thread through an
Event and joins it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from ..errors import UsageError

log = logging.getLogger(__name__)


class ResourceSampler:
    """Samples CPU, memory, disk and network into ``recorder`` until ``close()``."""

    RAMP = 40.0  # wait = elapsed / RAMP: about 40 samples per e-fold of the run's length

    def __init__(self, recorder: Any, interval: float, *, min_interval: float = 0.2) -> None:
        try:
            interval = float(interval)
        except (TypeError, ValueError):
            interval = float("nan")
        if not interval > 0:
            raise UsageError(f"resource sampling interval {interval!r} is not valid",
                             suggestion="set metrics_collection_interval to seconds > 0")
        self.recorder = recorder
        self.interval = interval
        self.min_interval = min(float(min_interval), interval)
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._proc: Any = None
        self._cpu_mark = (0.0, 0.0)  # (monotonic s, process CPU s) at the previous sample
        self._base: dict[str, float] = {}

    @property
    def running(self) -> bool:
        """True while the sampling thread is alive."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self) -> ResourceSampler:
        """Start sampling (idempotent: a running sampler is left as it is)."""
        with self._lock:
            if self.running:
                return self
            import psutil

            self._proc = psutil.Process()
            self._cpu_mark = self._cpu_now()  # the first reading is then 0.0, as psutil's
            self._base = self._counters()
            self._stop.clear()
            self._started = time.monotonic()
            self.sample()
            self._thread = threading.Thread(target=self._run, name="geuse-resources",
                                            daemon=True)
            self._thread.start()
        return self

    def _counters(self) -> dict[str, float]:
        import psutil

        out = {"disk_read_bytes": 0.0, "disk_write_bytes": 0.0,
               "net_sent_bytes": 0.0, "net_recv_bytes": 0.0}
        io: Any = None
        try:
            io = self._proc.io_counters()
        except (AttributeError, psutil.Error):
            io = None
        if io is None:
            try:
                io = psutil.disk_io_counters()
            except (OSError, RuntimeError):  # no disks visible (some containers)
                io = None
        if io is not None:
            out["disk_read_bytes"] = float(io.read_bytes)
            out["disk_write_bytes"] = float(io.write_bytes)
        try:  # counters here are deltas from the start, clamped at 0: no wrap bookkeeping
            net = psutil.net_io_counters(nowrap=False)
        except (OSError, RuntimeError):
            net = None
        if net is not None:
            out["net_sent_bytes"] = float(net.bytes_sent)
            out["net_recv_bytes"] = float(net.bytes_recv)
        return out

    def sample(self) -> dict[str, Any]:
        """Take one sample now, add it to ``resources`` and return it."""
        import psutil

        if self._proc is None:
            self._proc = psutil.Process()
            self._cpu_mark = self._cpu_now()
            self._base = self._counters()
        row: dict[str, Any] = {"time": time.time()}
        try:
            row["cpu_percent"] = self._cpu_percent()
            row["rss_bytes"] = int(self._proc.memory_info().rss)
        except psutil.Error:
            row["cpu_percent"], row["rss_bytes"] = None, None
        row["memory_percent"] = float(psutil.virtual_memory().percent)
        for key, value in self._counters().items():
            row[key] = max(0.0, value - self._base.get(key, 0.0))
        self.recorder.add("resources", row)
        return row

    def _cpu_now(self) -> tuple[float, float]:
        times = self._proc.cpu_times()
        return time.monotonic(), times.user + times.system

    def _cpu_percent(self) -> float:
        """This process's CPU since the previous sample, % of one core: psutil's
        ``cpu_percent`` without its per-call ``cpu_count()`` (a third of its cost)."""
        (then, used), (now, using) = self._cpu_mark, self._cpu_now()
        self._cpu_mark = (now, using)
        return max(0.0, (using - used) / (now - then) * 100.0) if now > then else 0.0

    def next_wait(self, elapsed: float) -> float:
        """Seconds to the next sample, ``elapsed`` seconds after ``start()``."""
        return min(self.interval, max(self.min_interval, elapsed / self.RAMP))

    def _run(self) -> None:
        while not self._stop.wait(self.next_wait(time.monotonic() - self._started)):
            try:
                self.sample()
            except Exception:  # a failed sample must not kill sampling
                log.debug("resource sample failed", exc_info=True)

    def close(self) -> None:
        """Stop the thread promptly (Event, not sleep), join it, and take a last sample."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
        if thread is None:
            return
        thread.join(timeout=5.0)
        if thread.is_alive():
            log.warning("resource sampler thread did not stop within 5 s")
        try:
            self.sample()
        except Exception:
            log.debug("final resource sample failed", exc_info=True)

    def __enter__(self) -> ResourceSampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
