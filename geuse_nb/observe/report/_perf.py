"""Per region, over time, and latency by operation: the sections about the requests.

All three read the real requests of ``RunData`` (cache hits are counted in their own
column, never as calls). Percentiles are grouped ``quantile`` calls; the over-time curves
are two ``searchsorted`` passes over sorted start and end times on a grid of at most
2,000 points, so 100 000 rows cost tens of milliseconds here.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from ._charts import latency_by_operation_chart, over_time_chart, region_chart
from ._data import RunData, union_seconds
from ._sections import Section
from ._tables import note_html, records, table_html, table_md

if TYPE_CHECKING:
    import pandas as pd

MAX_OPERATION_CHARTS = 12
GRID_POINTS = 2000
BIN_STEPS = (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600)


def _grouped(data: RunData, key: str, label: str) -> pd.DataFrame:
    """Per ``key``: requests, cache hits, errors, retried, p50/p95/p99/mean ms, seconds."""
    import numpy as np
    import pandas as pd

    calls = data.calls
    if not len(calls):
        return pd.DataFrame(columns=[label, "requests", "cache hits", "errors", "retried",
                                     "p50 (ms)", "p95 (ms)", "p99 (ms)", "mean (ms)",
                                     "time in requests (s)"])
    req = data.requests
    g_all = calls.groupby(key, sort=True)
    out = pd.DataFrame({
        "requests": (~calls["hit"]).groupby(calls[key]).sum().astype("int64"),
        "cache hits": g_all["hit"].sum().astype("int64"),
        "errors": (calls["err"] & ~calls["hit"]).groupby(calls[key]).sum().astype("int64"),
        "retried": calls["retried"].fillna(False).astype(bool).groupby(calls[key]).sum()
        .astype("int64"),
    })
    ok = req[~req["err"]] if len(req) else req
    if len(ok):
        # percentiles of the requests that succeeded: a throttled attempt answers at once
        # and would make its region look fast; its time still counts in the sum
        ms = ok["latency"] * 1000.0
        grouped = ms.groupby(ok[key], sort=True)
        quant = grouped.quantile(np.array([0.5, 0.95, 0.99])).unstack()
        quant.columns = ["p50 (ms)", "p95 (ms)", "p99 (ms)"]
        spent = req["latency"].groupby(req[key], sort=True).sum()
        out = out.join(quant).join(grouped.mean().rename("mean (ms)")).join(
            spent.rename("time in requests (s)"))
    else:
        for col in ("p50 (ms)", "p95 (ms)", "p99 (ms)", "mean (ms)", "time in requests (s)"):
            out[col] = np.nan
    out["time in requests (s)"] = out["time in requests (s)"].fillna(0.0)
    return out.rename_axis(label).reset_index()


def region_table(data: RunData) -> pd.DataFrame:
    df = _grouped(data, "region", "region")
    return df.sort_values(["p50 (ms)", "region"], na_position="last", ignore_index=True)


def operation_table(data: RunData) -> pd.DataFrame:
    df = _grouped(data, "op", "operation")
    return df.sort_values("time in requests (s)", ascending=False, ignore_index=True)


def region_section(table: pd.DataFrame) -> Section:
    if not len(table):
        return Section("regions", "Per region", '<p class="nodata">no API calls recorded</p>',
                       "_no API calls recorded_", [])
    timed = table[table["requests"] > 0]
    chart = region_chart(timed) if len(timed) else ""
    note = ("Real requests only; cache hits in their own column. Latency percentiles are of "
            "the requests that succeeded (a throttled attempt answers at once; it is counted "
            "in errors, and its time in the time column). Ordered by p50, fastest first; a "
            "region with errors is drawn red.")
    return Section("regions", "Per region", note_html(note) + chart + table_html(table),
                   note + "\n\n" + table_md(table), records(table), note=note)


def latency_section(data: RunData, table: pd.DataFrame, timers: pd.DataFrame,
                    histogram: pd.DataFrame) -> Section:
    if not len(data.calls) and not len(timers):
        return Section("latency", "Latency by operation",
                       '<p class="nodata">no API calls or timed blocks recorded</p>',
                       "_no API calls or timed blocks recorded_", {})
    req = data.requests
    req = req[~req["err"]] if len(req) else req
    chart = ""
    if len(req):
        top = table[table["requests"] > 0].sort_values("requests", ascending=False)
        names = top["operation"].head(MAX_OPERATION_CHARTS).tolist()
        ms = req["latency"].to_numpy() * 1000.0
        groups = [(name, ms[(req["op"] == name).to_numpy()]) for name in names]
        chart = latency_by_operation_chart(groups)
        if len(top) > MAX_OPERATION_CHARTS:
            chart += note_html(f"charts for the {MAX_OPERATION_CHARTS} busiest of "
                               f"{len(top)} operations; the table has them all")
    note = ("One distribution per operation (log scale) with p50/p95/p99 marked; the table is "
            "sorted by time spent in requests.")
    body = (note_html(note) + chart + "<h3>API operations</h3>" + table_html(table)
            + "<h3>Timed blocks (kit.metrics.timer)</h3>"
            + table_html(timers, nodata="no timed blocks"))
    md = (note + "\n\n### API operations\n\n" + table_md(table)
          + "\n\n### Timed blocks (kit.metrics.timer)\n\n" + table_md(timers, nodata="none"))
    return Section("latency", "Latency by operation", body, md,
                   {"api_calls": records(table), "operations": records(timers),
                    "histogram": records(histogram[histogram["count"] > 0]
                                         if len(histogram) else histogram)}, note=note)


def _bin_width(span: float) -> float:
    for step in BIN_STEPS:
        if span / step <= 120:
            return step
    return span / 120


def over_time_section(data: RunData) -> Section:
    import numpy as np
    import pandas as pd

    calls = data.calls
    if not len(calls) or data.wall_s <= 0:
        return Section("over_time", "Over time", '<p class="nodata">no API calls recorded</p>',
                       "_no API calls recorded_", {})
    req = data.requests
    starts = np.sort(req["start_s"].to_numpy())
    ends = np.sort(req["end_s"].to_numpy())
    span = data.wall_s
    t = np.linspace(0.0, span, GRID_POINTS)
    inflight = (np.searchsorted(starts, t, side="right")
                - np.searchsorted(ends, t, side="right"))
    width = _bin_width(span)
    edges = np.arange(0.0, span + width, width)
    if len(edges) < 2:
        edges = np.array([0.0, width])
    done, _ = np.histogram(ends, bins=edges)
    hit_done, _ = np.histogram(data.hits["end_s"].to_numpy(), bins=edges)
    chart = over_time_chart(t, inflight, edges, done / width, hit_done / width)
    busy = union_seconds(req["start_s"].to_numpy(), req["end_s"].to_numpy())
    serial = float(req["latency"].sum())
    figures = pd.DataFrame([
        {"measure": "peak requests in flight", "value": int(inflight.max(initial=0))},
        {"measure": "mean in flight while any was (requests)",
         "value": serial / busy if busy else float("nan")},
        {"measure": "time with a request in flight (s)", "value": busy},
        {"measure": f"peak completed per second ({width:g} s bins)",
         "value": float((done / width).max(initial=0))},
        {"measure": "mean requests per second over the run",
         "value": len(req) / span if span else float("nan")},
    ])
    note = (f"From the api_calls rows: a request is in flight from its start (end − latency) "
            f"to its end. Bins of {width:g} s; cache hits stacked in yellow.")
    return Section("over_time", "Over time", note_html(note) + chart + table_html(figures),
                   note + "\n\n" + table_md(figures), records(figures), note=note)


def html_list(items: list[str]) -> str:
    return "<ol>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ol>"
