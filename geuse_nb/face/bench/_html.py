"""The suite as one offline HTML page: the machine, a ratio table (met / not met), and per
scenario its contenders' table and a plot (medians with min–max bars, log scale when they
span more than 100×; the scale scenario's wall against ceil(calls / workers) with its
fitted line). Plots are PNGs inlined as base64: the page needs no network.
"""

from __future__ import annotations

import base64
import html
import io
import math
from typing import TYPE_CHECKING, Any

from ._core import ScenarioResult
from ._text import seconds, verdict

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:.2em .6em;
text-align:right}td:first-child,th:first-child{text-align:left}.met{color:#176f2c}
.miss{color:#b00020;font-weight:bold}.ref{color:#777;font-style:italic}
img{max-width:46em}code{background:#f3f3f3;padding:0 .2em}"""


def bars(result: ScenarioResult) -> Figure:
    """Medians with min–max bars, one bar per contender (references greyed)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 0.5 + 0.45 * max(2, len(result.measures))))
    ax = fig.subplots()
    names = [m.contender for m in result.measures][::-1]
    medians = [m.median for m in result.measures][::-1]
    lows = [max(0.0, m.median - m.low) for m in result.measures][::-1]
    highs = [max(0.0, m.high - m.median) for m in result.measures][::-1]
    colors = ["#bbbbbb" if m.reference else "#3c78b4" for m in result.measures][::-1]
    ax.barh(names, medians, xerr=[lows, highs], color=colors, capsize=3)
    finite = [v for v in medians if v > 0 and math.isfinite(v)]
    if finite and max(finite) / min(finite) > 100:
        ax.set_xscale("log")
    ax.set_xlabel("seconds (median, min–max)")
    ax.set_title(result.title, fontsize=10)
    fig.tight_layout()
    return fig


def scale_plot(plot: dict[str, Any], title: str) -> Figure:
    """Wall time against ceil(calls / workers), with the fitted line."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.6))
    ax = fig.subplots()
    waves, wall = plot["waves"], plot["wall"]
    err = [[w - lo for w, lo in zip(wall, plot["low"], strict=True)],
           [hi - w for w, hi in zip(wall, plot["high"], strict=True)]]
    ax.errorbar(waves, wall, yerr=err, fmt="o", color="#3c78b4", capsize=3, label="kit.fanout")
    for x, y, n in zip(waves, wall, plot["calls"], strict=True):
        ax.annotate(f"{n:.0f} calls", (x, y), textcoords="offset points", xytext=(6, -10),
                    fontsize=8)
    top = max(waves) * 1.05
    ax.plot([0, top], [plot["intercept"], plot["intercept"] + plot["slope"] * top], "--",
            color="#b05a00", label=f"fit: {plot['slope'] * 1e3:.0f} ms per wave")
    ax.set_xlabel("ceil(calls / workers)")
    ax.set_ylabel("wall seconds")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def _e(value: object) -> str:
    return html.escape(str(value))


def _ratio_rows(results: list[ScenarioResult], with_scenario: bool) -> str:
    rows = []
    for r in results:
        for x in r.ratios:
            css = {True: "met", False: "miss", None: ""}[x.met]
            head = f"<td>{_e(r.title)}</td>" if with_scenario else ""
            rows.append(f"<tr>{head}<td>{_e(x.name)}</td><td>{x.value:,.3g}</td>"
                        f"<td>{_e(x.target_text)}</td><td class='{css}'>{verdict(x.met)}</td>"
                        f"<td>{_e(x.note)}</td></tr>")
    head = "<th>scenario</th>" if with_scenario else ""
    return (f"<table><tr>{head}<th>ratio</th><th>value</th><th>target</th><th>verdict</th>"
            f"<th>note</th></tr>{''.join(rows)}</table>")


def _measure_rows(result: ScenarioResult) -> str:
    rows = []
    for m in result.measures:
        css = " class='ref'" if m.reference else ""
        rounds = "reference" if m.reference else str(len(m.seconds))
        cpu = seconds(m.cpu_median) if m.cpu else ""
        rows.append(f"<tr{css}><td>{_e(m.contender)}</td><td>{seconds(m.median)}</td>"
                    f"<td>{seconds(m.low)}</td><td>{seconds(m.high)}</td><td>{cpu}</td>"
                    f"<td>{rounds}</td><td>{_e(m.note)}</td></tr>")
    return ("<table><tr><th>contender</th><th>median</th><th>min</th><th>max</th><th>CPU</th>"
            f"<th>rounds</th><th>note</th></tr>{''.join(rows)}</table>")


def render(results: list[ScenarioResult], params: dict[str, Any], machine: dict[str, Any],
           seconds: float) -> str:
    """The whole page, from a ``SuiteResult``'s parts (this module imports no runner)."""
    m = machine
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>geuse_nb benchmarks"
             f"</title><style>{STYLE}</style></head><body><h1>geuse_nb benchmarks</h1>",
             f"<p>{_e(m['nproc'])} × {_e(m['cpu_model'])}, load {m['load_average_1m']:.1f}, "
             f"Python {_e(m['python'])}; sandbox RTT {params['rtt_s'] * 1e3:.0f} ms, "
             f"handshake 2 × RTT, {params['workers']} workers, "
             f"{params['rounds']} rounds{' (quick)' if params['quick'] else ''}; "
             f"{seconds:.0f} s. Contenders alternate (A B A B …) within each scenario."
             "</p><h2>Ratios</h2>", _ratio_rows(results, True)]
    for r in results:
        parts.append(f"<h2>{_e(r.title)}</h2>")
        if r.params:
            parts.append("<p><code>" + _e(", ".join(f"{k}={v}" for k, v in r.params.items()))
                         + "</code></p>")
        if r.error:
            parts.append(f"<p class='miss'>failed: {_e(r.error)}</p>")
            continue
        parts.append(_measure_rows(r))
        if r.plot and r.plot.get("kind") == "scale":
            parts.append(png(scale_plot(r.plot, r.title)))
        elif r.measures:
            parts.append(png(bars(r)))
    parts.append("</body></html>")
    return "\n".join(parts)
