"""Run scenarios on one sandbox, print each one's table as it ends, keep the results.

One sandbox serves the whole run (its start costs ~2 s; each scenario sets the network it
needs), and every scenario gets fresh kits on a temporary cache folder, so nothing of the
user's cache is read or written. A scenario that raises is recorded with its error and
the run goes on; ``SuiteResult.ok`` is False then.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ._core import REGISTRY, Context, ScenarioResult, check_names

if TYPE_CHECKING:
    import pandas as pd

    from ...observe.progress import Progress

log = logging.getLogger(__name__)

DEFAULT_RTT = 0.060
DEFAULT_WORKERS = 16


def machine() -> dict[str, Any]:
    """nproc, CPU model, load average, Python: the figures' context."""
    model = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    return {"nproc": os.cpu_count(), "cpu_model": model, "load_average_1m": load,
            "python": platform.python_version(), "platform": platform.platform()}


@dataclasses.dataclass
class SuiteResult:
    """Every scenario's result, the run's parameters and the machine."""

    results: list[ScenarioResult]
    params: dict[str, Any]
    machine: dict[str, Any]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(r.error is None for r in self.results)

    def __getitem__(self, key: str) -> ScenarioResult:
        for r in self.results:
            if r.key == key:
                return r
        raise KeyError(f"{key!r} was not run; run: {[r.key for r in self.results]}")

    def measures(self) -> pd.DataFrame:
        """One row per (scenario, contender): median, min, max, rounds, CPU median."""
        import pandas as pd

        rows = [{"scenario": r.title, **{k: v for k, v in m.as_dict().items()
                                         if k not in ("seconds", "cpu")}}
                for r in self.results for m in r.measures]
        return pd.DataFrame(rows)

    def ratios(self) -> pd.DataFrame:
        """One row per ratio: scenario, name, value, target, met (None: informative)."""
        import pandas as pd

        return pd.DataFrame([{"scenario": r.title, **x.as_dict()} for r in self.results
                             for x in r.ratios])

    def as_dict(self) -> dict[str, Any]:
        return {"params": self.params, "machine": self.machine, "seconds": self.seconds,
                "ok": self.ok, "scenarios": [r.as_dict() for r in self.results]}

    def save_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict(), indent=2, default=_plain))
        return path

    def save_html(self, path: str | Path) -> Path:
        from ._html import render

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(self.results, self.params, self.machine, self.seconds))
        return path


def _say(text: str) -> None:
    print(text, flush=True)  # a scenario's table as it ends, even into a pipe or a file


def _plain(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return value.item()  # numpy scalars
    return str(value)


def run(names: Sequence[str] = (), *, quick: bool = False, rtt: float = DEFAULT_RTT,
        workers: int = DEFAULT_WORKERS, rounds: int | None = None,
        scale: Sequence[int] | None = None,
        echo: Callable[[str], None] | Literal[False] | None = None,
        progress: Progress | None = None) -> SuiteResult:
    """Run the named scenarios (all when none) and return their results; ``progress``
    (e.g. ``kit.progress``) shows one step per scenario as it runs; ``echo`` prints
    each scenario's table as it ends (``print`` ed to stdout when not given, flushed;
    ``echo=False``: silent). ``scale``: the call counts of the
    scale scenario (default 4, 16, 64, 256; without 256 when ``quick``)."""
    from ...errors import UsageError

    if scale is not None and (not scale or not all(
            isinstance(n, int) and 1 <= n <= 256 for n in scale)):
        raise UsageError(f"scale={scale!r} is not valid",
                         suggestion="give call counts between 1 and 256, e.g. [4, 16, 64]")
    from ...sandbox import Sandbox
    from . import scenarios

    scenarios.load()
    chosen = check_names(tuple(names), list(REGISTRY))
    rounds = rounds or (2 if quick else 5)
    params = {"scenarios": chosen, "quick": quick, "rtt_s": rtt, "workers": workers,
              "rounds": rounds, "handshake": "2 × RTT", "scale": list(scale or [])}
    began = time.perf_counter()
    results: list[ScenarioResult] = []
    steps = progress.steps("benchmark", chosen) if progress is not None else None
    quiet = logging.getLogger("geuse_nb")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # a bench's retries and warnings are not its output
    try:
        with tempfile.TemporaryDirectory(prefix="geuse-bench-") as tmp, \
                Sandbox(seed=7, rtt=rtt, handshake_factor=2.0) as box:
            ctx = Context(box, quick=quick, rtt=rtt, workers=workers, rounds=rounds,
                          tmp=Path(tmp), scale=scale)
            for name in chosen:
                scenario = REGISTRY[name]()
                start = time.perf_counter()
                if steps is not None:
                    steps.start(name)
                try:
                    result = scenario.run(ctx)
                    if steps is not None:
                        steps.done(name)
                except Exception as exc:  # one scenario's failure is reported, not fatal
                    log.exception("scenario %s failed", name)
                    if steps is not None:
                        steps.fail(name, exc)
                    text = " ".join(str(exc).split())
                    result = scenario.result(error=f"{type(exc).__name__}: {text[:300]}"
                                             + ("…" if len(text) > 300 else ""))
                finally:
                    ctx.close()
                result.seconds = time.perf_counter() - start
                results.append(result)
                if echo is not False:
                    from ._text import table

                    (echo or _say)(table(result))
    finally:
        quiet.setLevel(level)
        if steps is not None:
            steps.close()
    return SuiteResult(results, params, machine(), time.perf_counter() - began)
