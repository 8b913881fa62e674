"""A scenario's result as plain text: contenders (median, min–max, CPU) and its ratios."""

from __future__ import annotations

import math

from ._core import ScenarioResult


def seconds(value: float) -> str:
    """``1.23 s``, ``45.6 ms`` or ``7.8 µs``."""
    if not math.isfinite(value):
        return "—"
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.1f} ms"
    return f"{value * 1e6:.1f} µs"


def verdict(met: bool | None) -> str:
    return {True: "met", False: "NOT MET", None: ""}[met]


def table(result: ScenarioResult) -> str:
    """The scenario's two tables as printable text."""
    lines = [f"\n== {result.title}  ({result.seconds:.1f} s)"]
    if result.params:
        lines.append("   " + ", ".join(f"{k}={v}" for k, v in result.params.items()))
    if result.error:
        lines.append(f"   FAILED: {result.error}")
        return "\n".join(lines)
    lines.append(f"   {'contender':<28}{'median':>11}{'min':>11}{'max':>11}{'CPU':>11}"
                 f"{'rounds':>7}  note")
    for m in result.measures:
        cpu = seconds(m.cpu_median) if m.cpu else ""
        rounds = "ref" if m.reference else str(len(m.seconds))
        lines.append(f"   {m.contender:<28}{seconds(m.median):>11}{seconds(m.low):>11}"
                     f"{seconds(m.high):>11}{cpu:>11}{rounds:>7}  {m.note}")
    if result.ratios:
        lines.append(f"   {'ratio':<40}{'value':>10}{'target':>10}  verdict")
        for r in result.ratios:
            value = f"{r.value:,.2f}" if abs(r.value) < 1000 else f"{r.value:,.0f}"
            lines.append(f"   {r.name:<40}{value:>10}{r.target_text:>10}  {verdict(r.met)}"
                         + (f"  ({r.note})" if r.note else ""))
    return "\n".join(lines)
