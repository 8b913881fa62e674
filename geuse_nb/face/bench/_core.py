"""The suite's vocabulary: a scenario (ABC + registry), its contenders timed alternately,
their measures, the ratios judged against targets, and the shared context (one sandbox,
one temporary cache folder, kits closed at the end).

Alternation (A B A B …, one timed run of each per round) is the one rule of every
scenario: this 2-core VM's speed drifts by up to 2× between seconds (other work, CPU
steal), so contenders timed in separate blocks would compare two machines. Each contender
reports the median of its rounds with min–max, never a mean.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ...errors import UsageError, did_you_mean

if TYPE_CHECKING:
    from ...kit import Kit
    from ...sandbox import Sandbox


@dataclasses.dataclass
class Measure:
    """One contender's samples: wall seconds per round (and client CPU seconds per round,
    where measured). ``reference`` rows are claimed or earlier-measured figures, not run."""

    contender: str
    seconds: list[float]
    cpu: list[float] = dataclasses.field(default_factory=list)
    note: str = ""
    reference: bool = False

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else math.nan

    @property
    def low(self) -> float:
        return min(self.seconds) if self.seconds else math.nan

    @property
    def high(self) -> float:
        return max(self.seconds) if self.seconds else math.nan

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu) if self.cpu else math.nan

    def as_dict(self) -> dict[str, Any]:
        return {"contender": self.contender, "median_s": self.median, "min_s": self.low,
                "max_s": self.high, "rounds": len(self.seconds), "cpu_median_s":
                self.cpu_median, "seconds": self.seconds, "cpu": self.cpu, "note": self.note,
                "reference": self.reference}


@dataclasses.dataclass
class Ratio:
    """A figure judged against the issue's target: ``op`` is ``">="`` or ``"<="`` (None
    when the figure is informative only); ``met`` is None without a target."""

    name: str
    value: float
    op: str | None = None
    target: float | None = None
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.op is None or self.target is None:
            return None
        if not math.isfinite(self.value):
            return False
        return self.value >= self.target if self.op == ">=" else self.value <= self.target

    @property
    def target_text(self) -> str:
        return "" if self.op is None else f"{'≥' if self.op == '>=' else '≤'} {self.target:g}"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "target": self.target_text,
                "met": self.met, "note": self.note}


@dataclasses.dataclass
class ScenarioResult:
    """What one scenario measured: its measures, ratios, extra figures and plot data."""

    key: str
    title: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    measures: list[Measure] = dataclasses.field(default_factory=list)
    ratios: list[Ratio] = dataclasses.field(default_factory=list)
    figures: dict[str, float] = dataclasses.field(default_factory=dict)
    plot: dict[str, Any] | None = None
    seconds: float = 0.0
    error: str | None = None

    def measure(self, contender: str) -> Measure:
        for m in self.measures:
            if m.contender == contender:
                return m
        raise KeyError(contender)

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "params": self.params,
                "measures": [m.as_dict() for m in self.measures],
                "ratios": [r.as_dict() for r in self.ratios], "figures": self.figures,
                "plot": self.plot, "seconds": self.seconds, "error": self.error}


def alternate(contenders: Mapping[str, Callable[[], Any]], rounds: int, *,
              before: Mapping[str, Callable[[], Any]] | None = None,
              rounds_of: Mapping[str, int] | None = None,
              notes: Mapping[str, str] | None = None,
              mirrored: bool = False) -> list[Measure]:
    """Time each contender once per round, in turn (A B A B …): wall (``perf_counter``) and
    this process's CPU (``process_time``). ``before[name]`` runs untimed ahead of each of
    its runs; ``rounds_of[name]`` caps a slow contender's rounds (it runs in the first ones).
    ``mirrored`` runs odd rounds in reverse order (A B, B A, …), so that no contender always
    runs second, on connections and caches its rival has just warmed."""
    before = before or {}
    rounds_of = rounds_of or {}
    out = {name: Measure(name, [], [], (notes or {}).get(name, "")) for name in contenders}
    perf, cpu = time.perf_counter, time.process_time
    order = list(contenders.items())
    for i in range(rounds):
        for name, fn in (order[::-1] if mirrored and i % 2 else order):
            if i >= rounds_of.get(name, rounds):
                continue
            if name in before:
                before[name]()
            start, start_cpu = perf(), cpu()
            fn()
            out[name].cpu.append(cpu() - start_cpu)
            out[name].seconds.append(perf() - start)
    return list(out.values())


def paired(num: Measure, den: Measure, *, cpu: bool = False) -> float:
    """The median over rounds of ``num``'s sample ÷ ``den``'s sample of the same round:
    contenders timed side by side in one round meet the same machine, so this ratio
    does not carry the drift between rounds that a ratio of two medians does."""
    ratios = round_ratios(num, den, cpu=cpu)
    return statistics.median(ratios) if ratios else math.nan


def round_ratios(num: Measure, den: Measure, *, cpu: bool = False) -> list[float]:
    """Each round's ``num`` sample ÷ ``den`` sample (rounds where ``den`` is 0 left out)."""
    a, b = (num.cpu, den.cpu) if cpu else (num.seconds, den.seconds)
    return [x / y for x, y in zip(a, b, strict=False) if y > 0]


def median_interval(values: Sequence[float], confidence: float = 0.90
                    ) -> tuple[float, float]:
    """A distribution-free confidence interval for the median of ``values``: the order
    statistics ``x(k) … x(n+1-k)`` with the largest ``k`` whose coverage, ``1 - 2·P(B ≤
    k-1)`` for ``B ~ Binomial(n, ½)``, is at least ``confidence`` (min … max when ``n`` is
    too small for it). It needs no assumption about the rounds' spread, which here is
    skewed (a slow second lengthens a round, nothing shortens one)."""
    if not 0.0 < confidence < 1.0:
        raise UsageError(f"confidence={confidence!r} is not a probability",
                         suggestion="give a number between 0 and 1, e.g. 0.90")
    xs = sorted(values)
    n = len(xs)
    if n == 0:
        return math.nan, math.nan
    k, tail = 1, 1 / 2 ** n  # tail = P(B ≤ k-1)
    while k + 1 <= (n + 1) // 2:
        wider = tail + math.comb(n, k) / 2 ** n
        if 1.0 - 2.0 * wider < confidence:
            break
        k, tail = k + 1, wider
    return xs[k - 1], xs[n - k]


def interleaved_calls(own: Callable[[], Any], bare: Callable[[], Any], n: int, rounds: int,
                      *, idle: float = 0.0, names: tuple[str, str] = ("own", "bare"),
                      notes: tuple[str, str] = ("", "")) -> list[Measure]:
    """Client CPU of ``n`` calls of ``own`` and of ``bare``, alternated call by call (A B,
    B A, …) in each round, then ``idle`` seconds, so both meet the same machine.

    A call's CPU is its thread's (``thread_time``). Everything the process spent on other
    threads during the round (the calls and the idle pause: a background writer, a
    sampler) is added to ``own``: ``bare`` is a plain client with no threads of its own.
    So ``own``'s figure is the process time it adds, as a round of ``n`` calls then
    ``idle`` timed alone would count it, without the ±20 % drift between such rounds.
    Wall per round is the sum of the calls' own walls.
    """
    perf, thread, process = time.perf_counter, time.thread_time, time.process_time
    out = [Measure(names[0], [], [], notes[0]), Measure(names[1], [], [], notes[1])]
    for _ in range(rounds):
        cpu, wall = [0.0, 0.0], [0.0, 0.0]
        start_process, start_thread = process(), thread()
        for i in range(n):
            for which in ((0, 1) if i % 2 == 0 else (1, 0)):
                fn = own if which == 0 else bare
                w, t = perf(), thread()
                fn()
                cpu[which] += thread() - t
                wall[which] += perf() - w
        time.sleep(idle)
        background = (process() - start_process) - (thread() - start_thread)
        cpu[0] += max(0.0, background)
        for which in (0, 1):
            out[which].cpu.append(cpu[which])
            out[which].seconds.append(wall[which])
    return out


class Context:
    """What every scenario shares: the sandbox, the suite's parameters, a temporary cache
    folder, and the kits it built (closed by ``close``)."""

    def __init__(self, box: Sandbox, *, quick: bool, rtt: float, workers: int,
                 rounds: int, tmp: Path, scale: Sequence[int] | None = None) -> None:
        self.box = box
        self.scale = list(scale) if scale else None
        self.quick = quick
        self.rtt = rtt
        self.workers = workers
        self.rounds = rounds
        self.tmp = tmp
        self._kits: list[Kit] = []

    def kit(self, name: str, **overrides: Any) -> Kit:
        """A fresh kit on the suite's sandbox, with its own empty cache folder (so a kit's
        latency history and cache start empty: ``cold`` means cold)."""
        from ...kit import Kit

        overrides.setdefault("progress_quiet", True)
        kit = Kit(f"bench-{name}", backend="sandbox", sandbox=self.box,
                  cache_dir=self.tmp / f"{name}-{uuid.uuid4().hex[:6]}", **overrides)
        self._kits.append(kit)
        return kit

    def uniform(self, rtt: float | None = None) -> None:
        """Every region at the same RTT (the suite's ``--rtt`` unless given)."""
        self.box.set_network(rtt=self.rtt if rtt is None else rtt)

    def close(self) -> None:
        for kit in self._kits:
            kit.close()
        self._kits.clear()


class Scenario(ABC):
    """One group of side-by-side measurements; subclasses register with ``@register``."""

    key: ClassVar[str]
    number: ClassVar[str]  # the numbering: "1", "1b", …
    title: ClassVar[str]

    @abstractmethod
    def run(self, ctx: Context) -> ScenarioResult:
        """Measure, alternating contenders; return the result (the runner times it)."""

    def result(self, **kwargs: Any) -> ScenarioResult:
        return ScenarioResult(self.key, f"{self.number} · {self.title}", **kwargs)


REGISTRY: dict[str, type[Scenario]] = {}


def register(cls: type[Scenario]) -> type[Scenario]:
    """Class decorator: add a scenario under its ``key`` (in definition order)."""
    REGISTRY[cls.key] = cls
    return cls


def check_names(names: list[str] | tuple[str, ...], known: list[str]) -> list[str]:
    """The scenario names asked for, checked (all when empty)."""
    for name in names:
        if name not in known:
            raise UsageError(f"no benchmark scenario {name!r}{did_you_mean(name, known)}",
                             suggestion="choose from " + ", ".join(known))
    return list(dict.fromkeys(names)) or list(known)
