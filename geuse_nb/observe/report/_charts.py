"""Charts: matplotlib ``Figure`` + Agg canvas → base64 PNG (pyplot's global state untouched).

Each chart is drawn on a white card (the page's CSS keeps the card white in dark mode too,
so the axes stay readable), at 90 dpi and 9 in wide (810 px: fits a 1,000 px window and an
A4 page). Series are cut to at most ``MAX_PLOT_POINTS`` points before drawing, which keeps
a 100 000-row report's charts at ~0.1 s each.
"""

from __future__ import annotations

import base64
import html
import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MAX_PLOT_POINTS = 2000
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")


def figure(width: float = 9.0, height: float = 3.2, *, left: float = 0.8,
           bottom: float = 0.6) -> Any:
    """A Figure with margins fixed in inches (room for tick labels and axis labels)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=90)
    fig.subplots_adjust(left=left / width, right=1 - 0.2 / width, bottom=bottom / height,
                        top=1 - 0.4 / height, hspace=0.35, wspace=0.25)
    return fig


def png(fig: Any, alt: str) -> str:
    """Our own Figure as an ``<img>`` data URI; the figure is cleared afterwards."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    buf = io.BytesIO()
    canvas.print_png(buf)
    fig.clear()
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    alt = html.escape(alt, quote=True)
    return f'<img class="chart" alt="{alt}" src="data:image/png;base64,{data}">'


def figure_png_b64(fig: Any) -> str:
    """A caller's Figure (pyplot's or not) as base64 PNG, left as it was."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", facecolor="white")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def region_chart(by_region: pd.DataFrame) -> str:
    """One bar per region (p50 ms), ordered by latency, with a p95 tick and request counts."""
    df = by_region.sort_values("p50 (ms)")
    n = len(df)
    fig = figure(9.0, max(1.6, 0.6 + 0.28 * n), left=1.5, bottom=0.5)
    ax = fig.add_subplot()
    y = range(n)
    p50 = df["p50 (ms)"].to_numpy(dtype="float64")
    p95 = df["p95 (ms)"].to_numpy(dtype="float64")
    colours = ["#d62728" if e else "#1f77b4" for e in (df["errors"].to_numpy() > 0)]
    ax.barh(y, p50, color=colours, height=0.6, label="p50")
    ax.scatter(p95, y, marker="|", s=120, color="#222222", label="p95", zorder=3)
    ax.set_yticks(list(y), [str(r) for r in df["region"]], fontsize=8)
    ax.invert_yaxis()
    for i, (v, calls) in enumerate(zip(p95, df["requests"], strict=True)):
        ax.annotate(f" {int(calls):,} req", (v if v == v else 0, i), va="center", fontsize=7)
    ax.set_xlabel("request latency (ms): bar = p50, tick = p95; red = region had errors")
    ax.set_xlim(0, max(1e-3, float(max(p95.max(initial=0), p50.max(initial=0)))) * 1.25)
    ax.set_title("Latency by region (fastest first)", fontsize=10)
    return png(fig, "latency by region")


def over_time_chart(t: np.ndarray, inflight: np.ndarray, edges: np.ndarray,
                    per_second: np.ndarray, hits_per_second: np.ndarray) -> str:
    """Requests in flight (step) and completed requests per second (bars) across the run."""
    fig = figure(9.0, 4.0, bottom=0.55)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    ax1.step(t, inflight, where="post", color="#1f77b4")
    ax1.fill_between(t, inflight, step="post", alpha=0.25, color="#1f77b4")
    ax1.set_ylabel("in flight")
    ax1.set_title("Requests in flight and completed per second", fontsize=10)
    # stairs: one artist per series (120 bars were 120 patches each, ~0.5 s of drawing)
    ax2.stairs(per_second, edges, fill=True, color="#2ca02c", label="requests completed / s")
    if hits_per_second.any():
        ax2.stairs(per_second + hits_per_second, edges, baseline=per_second, fill=True,
                   color="#bcbd22", label="cache hits / s")
    ax2.set_ylabel("per second")
    ax2.set_xlabel("seconds since the run started")
    ax2.legend(fontsize=7, loc="upper right")
    return png(fig, "requests in flight and per second over time")


def latency_by_operation_chart(groups: list[tuple[str, np.ndarray]]) -> str:
    """One distribution per operation, stacked on one log-x axis (a ridgeline: one Axes,
    so one set of ticks: 12 small-multiple Axes cost ~1 s of tick layout, this ~0.1 s),
    each with its p50 (●), p95 (◆) and p99 (|) marked."""
    import numpy as np

    n = len(groups)
    fig = figure(9.0, 0.9 + 0.42 * n, left=2.4, bottom=0.55)
    ax = fig.add_subplot()
    every = np.concatenate([ms[ms > 0] for _, ms in groups]) if groups else np.array([1.0])
    low = max(1e-3, float(every.min()) if len(every) else 0.1)
    high = max(low * 10, float(every.max()) if len(every) else 1.0)
    bins = np.geomspace(low, high * 1.0001, 40)
    mids = np.sqrt(bins[:-1] * bins[1:])
    for i, (_, ms) in enumerate(groups):
        counts, _ = np.histogram(np.clip(ms, low, high), bins=bins)
        height = 0.8 * counts / max(1, counts.max())
        colour = PALETTE[i % len(PALETTE)]
        ax.fill_between(mids, i - height, i, color=colour, alpha=0.55, step="mid", lw=0)
        if len(ms):
            p50, p95, p99 = np.quantile(ms, [0.5, 0.95, 0.99])
            ax.plot([p50], [i - 0.3], "o", color="#222222", ms=4,
                    label="p50" if i == 0 else None)
            ax.plot([p95], [i - 0.3], "D", color="#ff7f0e", ms=4,
                    label="p95" if i == 0 else None)
            ax.plot([p99], [i - 0.3], "|", color="#d62728", ms=10, mew=2,
                    label="p99" if i == 0 else None)
    ax.set_xscale("log")
    ax.set_xlim(low, high * 1.05)
    ax.set_ylim(n - 0.05, -1.0)
    ax.set_yticks(range(n), [f"{name} ({len(ms):,})" for name, ms in groups], fontsize=8)
    ax.set_yticks([], minor=True)
    ax.grid(axis="x", which="major", alpha=0.3)
    ax.set_xlabel("request latency (ms, log scale)")
    ax.set_title("Latency distribution per operation (requests in brackets)", fontsize=10)
    ax.legend(fontsize=7, loc="upper right", ncol=3)
    return png(fig, "latency distribution per operation")


def resources_chart(t: np.ndarray, cpu: np.ndarray, mem: np.ndarray, rss_mib: np.ndarray,
                    net_mib: np.ndarray) -> str:
    fig = figure(9.0, 3.8, bottom=0.55)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    ax1.plot(t, cpu, color="#d62728", marker=".", label="CPU % (100 = one core)")
    ax1.plot(t, mem, color="#9467bd", label="system memory %")
    ax1.set_ylabel("%")
    ax1.legend(fontsize=7, loc="upper left")
    ax2.plot(t, rss_mib, color="#1f77b4", marker=".", label="RSS MiB")
    ax2.plot(t, net_mib, color="#2ca02c", label="network MiB (cumulative)")
    ax2.set_ylabel("MiB")
    ax2.set_xlabel("seconds since the kit started")
    ax2.legend(fontsize=7, loc="upper left")
    ax1.set_title("Resource usage", fontsize=10)
    return png(fig, "resource usage over time")
