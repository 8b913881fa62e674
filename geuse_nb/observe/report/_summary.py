"""Where the time went: wall time, time in AWS requests, what parallelism and the cache saved.

The figures (``headline``), all from ``api_calls`` and ``jobs``:

- **wall time**: first event → last event of the run.
- **time in AWS requests (serial sum)**: Σ latency of real requests, i.e. what they would
  take one after another; **with a request in flight**: the union of their intervals.
- **saved by parallelism** = serial sum − time with a request in flight.
- **saved by the cache**: each hit avoided one request, costed at the median latency of
  that operation's real requests in that region (else the operation's, else all). The
  serial figure is their sum; the **wall-clock** figure divides each operation's share by
  how many of its requests were in flight at once on average (its serial sum ÷ the union
  of its intervals), because a hit in a parallel round saves only its share of that
  round. The old report summed latencies (1.99 s where the demo's wall gain was ~0.9 s).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from ...states import ERROR_STATUSES
from ._data import RunData, union_seconds
from ._sections import Section

if TYPE_CHECKING:
    import pandas as pd


def cache_savings(data: RunData) -> tuple[float, float]:
    """(serial seconds, wall-clock seconds) the cache hits saved; see the module docstring."""
    import numpy as np

    req, hits = data.requests, data.hits
    if not len(hits) or not len(req):
        return 0.0, 0.0
    by_op_region = req.groupby(["op", "region"])["latency"].median()
    by_op = req.groupby("op")["latency"].median()
    overall = float(req["latency"].median())
    keyed = by_op_region.reindex(list(zip(hits["op"], hits["region"], strict=True)))
    cost = keyed.to_numpy(dtype="float64")
    fallback = by_op.reindex(hits["op"]).to_numpy(dtype="float64")
    cost = np.where(np.isnan(cost), fallback, cost)
    cost = np.where(np.isnan(cost), overall, cost)
    serial = float(cost.sum())
    concurrency: dict[str, float] = {}
    for op, group in req.groupby("op"):
        busy = union_seconds(group["start_s"].to_numpy(), group["end_s"].to_numpy())
        total = float(group["latency"].sum())
        concurrency[str(op)] = max(1.0, total / busy) if busy > 0 else 1.0
    share = np.array([concurrency.get(op, 1.0) for op in hits["op"]])
    return serial, float((cost / share).sum())


def headline(data: RunData) -> dict[str, Any]:
    req = data.requests
    serial = float(req["latency"].sum()) if len(req) else 0.0
    busy = (union_seconds(req["start_s"].to_numpy(), req["end_s"].to_numpy())
            if len(req) else 0.0)
    cache_serial, cache_wall = cache_savings(data)
    jobs = data.jobs
    failed = int(jobs["status"].isin(ERROR_STATUSES).sum()) if len(jobs) else 0
    job_serial = float(jobs["seconds"].astype("float64").sum()) if len(jobs) else 0.0
    job_span = (union_seconds(jobs["start_s"].to_numpy(), jobs["end_s"].to_numpy())
                if len(jobs) else 0.0)
    ms = req["latency"] * 1000.0 if len(req) else None
    return {
        "wall_s": data.wall_s,
        "aws_serial_s": serial,
        "aws_in_flight_s": busy,
        "parallel_saved_s": max(0.0, serial - busy),
        "api_calls": len(req),
        "cache_hits": len(data.hits),
        "errors": int(req["err"].sum()) if len(req) else 0,
        "expected_not_found": int(req["expected"].sum()) if len(req) else 0,
        "retried": int(req["retried"].fillna(False).astype(bool).sum()) if len(req) else 0,
        "cache_saved_serial_s": cache_serial,
        "cache_saved_wall_s": cache_wall,
        "jobs": len(jobs),
        "jobs_failed": failed,
        "jobs_serial_s": job_serial,
        "jobs_span_s": job_span,
        "p50_ms": float(ms.quantile(0.5)) if ms is not None and len(ms) else None,
        "p95_ms": float(ms.quantile(0.95)) if ms is not None and len(ms) else None,
    }


def things_to_look_at(head: dict[str, Any], regions: pd.DataFrame, ops: pd.DataFrame,
                      errors: pd.DataFrame) -> list[str]:
    """Up to three findings, most telling first (each names the section to read)."""
    found: list[tuple[float, str]] = []
    if len(errors):
        top = errors.iloc[0]
        tip = f" → {top['suggestion']}" if str(top.get("suggestion") or "") else ""
        found.append((100.0 + float(top["count"]),
                      f"{int(errors['count'].sum()):,} errors; most: {top['error']} at "
                      f"{top['where']} ({int(top['count']):,}×){tip} (Errors).", ))
    timed = regions[regions["requests"] > 0] if len(regions) else regions
    if len(timed) >= 2:
        median = float(timed["p50 (ms)"].median())
        slow = timed.sort_values("p50 (ms)").iloc[-1]
        ratio = float(slow["p50 (ms)"]) / median if median else 0.0
        if ratio >= 1.3:
            found.append((50.0 + ratio, f"{slow['region']} is the slowest region: p50 "
                          f"{float(slow['p50 (ms)']):.0f} ms, {ratio:.1f}× the median region "
                          "(Per region)."))
    if len(ops) and head["aws_serial_s"] > 0:
        top_op = ops.iloc[0]
        share = float(top_op["time in requests (s)"]) / head["aws_serial_s"]
        if share >= 0.3:
            found.append((40.0 + share, f"{top_op['operation']} takes {share:.0%} of the time "
                          f"in requests ({float(top_op['time in requests (s)']):.2f} s over "
                          f"{int(top_op['requests']):,} requests) (Latency by operation)."))
    serial, busy = head["aws_serial_s"], head["aws_in_flight_s"]
    if head["api_calls"] >= 8 and busy > 0 and serial / busy < 1.5:
        found.append((30.0, f"requests mostly ran one at a time ({serial / busy:.1f} in flight "
                      "on average): kit.fanout / kit.pmap run them in parallel (Over time)."))
    lookups = head["api_calls"] + head["cache_hits"]
    if lookups >= 10 and head["cache_hits"] / lookups < 0.1:
        found.append((20.0, f"the cache answered {head['cache_hits']:,} of {lookups:,} "
                      "calls: repeated reads could be cached (Cache)."))
    if head["jobs_failed"]:
        n = head["jobs_failed"]
        found.append((90.0, f"{n:,} job{'s' if n != 1 else ''} failed or timed out (Errors, "
                      "Jobs timeline)."))
    return [text for _, text in sorted(found, key=lambda x: -x[0])[:3]]


def _s(value: float) -> str:
    return f"{value:,.2f} s"


def summary_section(head: dict[str, Any], findings: list[str], start: str | None,
                    end: str | None) -> Section:
    if not head["api_calls"] and not head["cache_hits"] and not head["jobs"]:
        return Section("summary", "Where the time went",
                       '<p class="nodata">no data recorded yet</p>', "_no data recorded yet_",
                       head)
    wall, serial, busy = head["wall_s"], head["aws_serial_s"], head["aws_in_flight_s"]
    par = head["parallel_saved_s"]
    sentences = [
        f"The run took {_s(wall)} of wall time. Its {head['api_calls']:,} AWS requests "
        f"took {_s(serial)} added up (one after another), but a request was in flight for "
        f"only {_s(busy)}: running them in parallel saved {_s(par)}"
        + (f" ({serial / busy:.1f} at once on average)." if busy else "."),
        f"The cache answered {head['cache_hits']:,} calls without a request, saving about "
        f"{_s(head['cache_saved_wall_s'])} of wall-clock time ({_s(head['cache_saved_serial_s'])}"
        " if those requests had run one after another).",
    ]
    if head["jobs"]:
        sentences.append(f"{head['jobs']:,} jobs ran ({head['jobs_failed']:,} failed or timed "
                         f"out); their serial sum is {_s(head['jobs_serial_s'])} over "
                         f"{_s(head['jobs_span_s'])} with a job running.")
    kpis = [("wall time", _s(wall)), ("in AWS requests (serial sum)", _s(serial)),
            ("saved by parallelism", _s(par)), ("API requests", f"{head['api_calls']:,}"),
            ("cache hits (no request)", f"{head['cache_hits']:,}"),
            ("saved by cache (wall-clock)", _s(head["cache_saved_wall_s"])),
            ("errors", f"{head['errors']:,}"),
            ("expected not found", f"{head.get('expected_not_found', 0):,}"),
            ("retried attempts", f"{head['retried']:,}"),
            ("jobs", f"{head['jobs']:,}")]
    cards = "".join(f'<div class="kpi">{html.escape(k)}<b>{html.escape(v)}</b></div>'
                    for k, v in kpis)
    when = (f'<p class="note">{html.escape(start)} → {html.escape(end)} (UTC)</p>'
            if start and end else "")
    how = ("How: parallelism = serial sum − time with a request in flight; cache = each hit × "
           "its operation's median request latency in its region, divided by how many of that "
           "operation's requests ran at once on average.")
    look = ("<h3>Look at first</h3><ol>" + "".join(f"<li>{html.escape(f)}</li>"
                                                    for f in findings) + "</ol>"
            if findings else "<h3>Look at first</h3><p>nothing stands out.</p>")
    body = (when + "".join(f"<p>{html.escape(s)}</p>" for s in sentences)
            + f'<div class="kpis">{cards}</div><p class="note">{html.escape(how)}</p>' + look)
    md = "\n\n".join(sentences) + "\n\n" + "\n".join(f"- **{k}**: {v}" for k, v in kpis) \
        + f"\n\n_{how}_\n\n### Look at first\n\n" \
        + ("\n".join(f"{i}. {f}" for i, f in enumerate(findings, 1)) or "nothing stands out.")
    data = dict(head, start=start, end=end, findings=findings)
    return Section("summary", "Where the time went", body, md, data)
