"""The jobs timeline, drawn as HTML (labels are text: they wrap, they are never cut).

One group per run of a map (``RunData.jobs["run"]``), in start order; each row is a label,
a bar positioned in % of the run's wall time (the same 0 as the over-time chart) and its
seconds. A group shows at most ``MAX_PER_GROUP`` jobs (the slowest, in start order; the
rest summarised on one line) and the page at most ``MAX_ROWS``, so 2,000 jobs cost ~40 KB.
The three slowest jobs are marked ⚑; colours are by ``JobStatus`` with a legend.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from ...states import JobStatus
from ._data import RunData
from ._sections import Section
from ._tables import records, table_html, table_md

if TYPE_CHECKING:
    import pandas as pd

MAX_PER_GROUP = 30
MAX_ROWS = 160
SLOWEST_MARKED = 3
STATUS_CLASS = {s.value: f"st-{s.value}" for s in JobStatus}


def _legend() -> str:
    items = "".join(f'<span class="tl-key"><i class="{STATUS_CLASS[s.value]}"></i>'
                    f"{html.escape(s.value.replace('_', ' '))}</span>" for s in JobStatus)
    return f'<div class="tl-legend">{items}<span class="tl-key">⚑ slowest jobs</span></div>'


def _axis(span: float) -> str:
    ticks = "".join(f'<span style="left:{p}%">{span * p / 100:.2f} s</span>'
                    for p in (0, 25, 50, 75, 100))
    return ('<div class="tl-row tl-axis"><span class="tl-label">job</span>'
            f'<span class="tl-track">{ticks}</span><span class="tl-sec">time</span></div>')


def _row(label: str, status: str, start: float, end: float, span: float, seconds: float,
         slow: bool) -> str:
    left = 100.0 * max(0.0, start) / span if span else 0.0
    width = max(0.4, 100.0 * max(0.0, end - start) / span) if span else 100.0
    left = min(left, 100.0 - width) if left + width > 100 else left
    cls = STATUS_CLASS.get(status, "st-pending")
    mark = "⚑ " if slow else ""
    tip = html.escape(f"{label}: {status}, {seconds:.3f} s", quote=True)
    return (f'<div class="tl-row"><span class="tl-label">{mark}{html.escape(label)}</span>'
            f'<span class="tl-track"><span class="tl-bar {cls}" title="{tip}" '
            f'style="left:{left:.2f}%;width:{width:.2f}%"></span></span>'
            f'<span class="tl-sec">{seconds:.2f} s</span></div>')


def timeline_html(data: RunData) -> str:
    import numpy as np

    jobs = data.jobs
    span = data.wall_s
    seconds = jobs["seconds"].astype("float64").fillna(0.0)
    slowest = set(seconds.nlargest(SLOWEST_MARKED).index) if len(jobs) else set()
    order = jobs.groupby("run", sort=False)["start_s"].min().sort_values()
    parts = [_legend(), '<div class="timeline">', _axis(span)]
    rows = 0
    for run in order.index:
        group = jobs[jobs["run"] == run]
        dur = group["end_s"].max() - group["start_s"].min()
        bad = int((group["status"] != JobStatus.DONE.value).sum())
        head = (f"{run} · {len(group):,} jobs · {dur:.2f} s"
                + (f" · {bad:,} not done" if bad else ""))
        parts.append(f'<div class="tl-group">{html.escape(head)}</div>')
        room = max(0, min(MAX_PER_GROUP, MAX_ROWS - rows))
        shown = group.loc[seconds[group.index].nlargest(room).index].sort_values("start_s")
        for idx, job in shown.iterrows():
            start = float(job["start_s"]) if np.isfinite(job["start_s"]) else 0.0
            parts.append(_row(str(job["key"]), str(job["status"]), start,
                              float(job["end_s"]) if np.isfinite(job["end_s"]) else start,
                              span, float(seconds[idx]), idx in slowest))
        rows += len(shown)
        rest = group.drop(shown.index)
        if len(rest):
            counts = rest["status"].value_counts()
            said = ", ".join(f"{n:,} {s}" for s, n in counts.items())
            sec = seconds[rest.index]
            parts.append(f'<div class="tl-more">… {len(rest):,} more ({html.escape(said)}), '
                         f"{sec.min():.2f}–{sec.max():.2f} s each</div>")
    parts.append("</div>")
    return "".join(parts)


def jobs_section(data: RunData) -> Section:
    jobs = data.jobs
    if not len(jobs):
        return Section("jobs", "Jobs timeline", '<p class="nodata">no data: no kit.pmap, '
                       "kit.jobs or kit.fanout ran</p>", "_no data_", {})
    counts = (jobs.groupby(["run", "status"], sort=False).size().rename("jobs")
              .reset_index())
    slow = jobs.assign(seconds=jobs["seconds"].astype("float64")).sort_values(
        "seconds", ascending=False)[["run", "key", "status", "attempts", "seconds"]]
    slow = slow.rename(columns={"seconds": "seconds (s)"})
    note = ("Bars are placed on the run's clock (0 = first event, as in Over time); one "
            "group per map or DAG run; ⚑ marks the slowest jobs.")
    body = (f'<p class="note">{html.escape(note)}</p>' + timeline_html(data)
            + "<h3>Jobs by status</h3>" + table_html(counts)
            + "<h3>Slowest jobs</h3>" + table_html(slow, 15))
    md = (note + "\n\n### Jobs by status\n\n" + table_md(counts)
          + "\n\n### Slowest jobs\n\n" + table_md(slow, 15))
    return Section("jobs", "Jobs timeline", body, md,
                   {"by_status": records(counts), "slowest": records(slow, 50)}, note=note)


def job_errors(jobs: pd.DataFrame) -> pd.DataFrame | None:
    """Failed and timed-out jobs by (run, status, error, suggestion)."""
    import pandas as pd

    from ...states import ERROR_STATUSES

    if not len(jobs):
        return None
    bad = jobs[jobs["status"].isin(ERROR_STATUSES)]
    if not len(bad):
        return None
    grouped = bad.assign(error=bad["error"].fillna("").astype(str),
                         suggestion=bad["suggestion"].fillna("").astype(str)).groupby(
        ["run", "status", "error", "suggestion"], sort=False).size().rename("count")
    g = grouped.reset_index()
    return pd.DataFrame({"where": "jobs " + g["run"].astype(str) + " (" + g["status"] + ")",
                         "error": g["error"], "count": g["count"],
                         "suggestion": g["suggestion"]})
