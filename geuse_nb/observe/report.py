"""The performance report: one self-contained HTML page (or Markdown, or JSON) of a run.

``Report.build(title=, recorder=, cache_stats=, pool_stats=, settings=)`` computes every
section once; the object displays inline in a notebook (``_repr_html_``) and ``save(path)``
writes ``.html`` (one file: inline CSS, charts as base64 PNG data URIs, no script, no external
stylesheet, font or image), ``.md`` or ``.json``. Every section says "no data" when its table
is empty. Charts use matplotlib's ``Figure`` + ``FigureCanvasAgg`` (the global backend is never
touched), are downsampled, and are closed after rendering; everything else is vectorised
pandas, so 100 000 API-call rows build in about a second.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import html
import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..aws.errors import suggest_for_code
from ..errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from ..config import Settings
    from .metrics import Recorder

FORMATS = (".html", ".md", ".json")
MAX_TABLE_ROWS = 50
MAX_GANTT_JOBS = 300
MAX_PLOT_POINTS = 2000

_CSS = """
.geuse-report{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#212121;
 max-width:1100px;font-size:14px;line-height:1.4}
.geuse-report h1{font-size:22px;margin:8px 0}
.geuse-report h2{font-size:17px;border-bottom:1px solid #ddd;padding-bottom:3px;margin-top:22px}
.geuse-report table{border-collapse:collapse;margin:6px 0;font-size:12px}
.geuse-report th,.geuse-report td{border:1px solid #e0e0e0;padding:3px 7px;text-align:right}
.geuse-report th{background:#f5f5f5}
.geuse-report td:first-child,.geuse-report th:first-child{text-align:left}
.geuse-report .kpis{display:flex;flex-wrap:wrap;gap:10px}
.geuse-report .kpi{border:1px solid #e0e0e0;border-radius:6px;padding:6px 12px;min-width:120px}
.geuse-report .kpi b{display:block;font-size:18px}
.geuse-report .nodata{color:#757575;font-style:italic}
.geuse-report .note{color:#616161;font-size:12px}
.geuse-report img{max-width:100%;height:auto}
"""


@dataclasses.dataclass
class Section:
    """One report section: HTML and Markdown renderings plus its data for JSON."""

    key: str
    title: str
    html: str
    markdown: str
    data: Any


# ---------------------------------------------------------------- small renderers
def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if math.isinf(value):
            return "∞"
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 1e6 else f"{value:,.0f}"
    if hasattr(value, "isoformat"):
        try:
            return value.isoformat(timespec="seconds")
        except TypeError:
            return value.isoformat()
    return str(value)


def _table_html(df: pd.DataFrame, limit: int = MAX_TABLE_ROWS) -> str:
    if df is None or not len(df):
        return '<p class="nodata">no data</p>'
    shown = df.head(limit)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>"
        for row in shown.itertuples(index=False, name=None))
    more = (f'<p class="note">showing {limit} of {len(df)} rows</p>'
            if len(df) > limit else "")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def _md_cell(value: Any) -> str:
    return _fmt(value).replace("|", "\\|").replace("\n", " ")


def _table_md(df: pd.DataFrame, limit: int = MAX_TABLE_ROWS) -> str:
    if df is None or not len(df):
        return "_no data_"
    shown = df.head(limit)
    lines = ["| " + " | ".join(_md_cell(c) for c in shown.columns) + " |",
             "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |"
              for row in shown.itertuples(index=False, name=None)]
    if len(df) > limit:
        lines.append(f"\n_showing {limit} of {len(df)} rows_")
    return "\n".join(lines)


def _records(df: pd.DataFrame | None) -> list[dict[str, Any]]:
    if df is None or not len(df):
        return []
    return json.loads(df.to_json(orient="records", date_format="iso"))


def _png(fig: Any) -> str:
    """Render a matplotlib Figure to an <img> with a base64 data URI (Agg canvas, no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    buf = io.BytesIO()
    canvas.print_png(buf)
    fig.clear()
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="chart" src="data:image/png;base64,{data}">'


def _figure(width: float = 9.0, height: float = 3.2, *, bottom: float = 0.95) -> Any:
    """A Figure with margins fixed in inches (``bottom`` for tick labels and the x label)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=90)
    fig.subplots_adjust(left=0.09, right=0.98, bottom=bottom / height,
                        top=1 - 0.35 / height, hspace=0.15)
    return fig


def _as_datetime(series: pd.Series) -> pd.Series:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series):
        return series
    if pd.api.types.is_numeric_dtype(series):
        return pd.to_datetime(series, unit="s", utc=True)
    return pd.to_datetime(series, utc=True, errors="coerce")


def _every(df: pd.DataFrame, limit: int = MAX_PLOT_POINTS) -> pd.DataFrame:
    step = max(1, math.ceil(len(df) / limit))
    return df.iloc[::step]


def _as_frame(obj: Any) -> pd.DataFrame:
    import pandas as pd

    if obj is None:
        return pd.DataFrame()
    if isinstance(obj, pd.DataFrame):
        return obj
    return pd.DataFrame(obj)


# ---------------------------------------------------------------- sections
def _errors_mask(calls: pd.DataFrame) -> pd.Series:
    from .analysis import error_attempts  # the one "this attempt was an error" rule

    return error_attempts(calls)


def _run_summary(recorder: Recorder, calls: pd.DataFrame, ops: pd.DataFrame,
                 jobs: pd.DataFrame, cache: pd.DataFrame) -> Section:
    import pandas as pd

    times = [calls["time"]] if len(calls) else []
    if len(ops):
        times.append(ops["time"])
    if len(jobs):
        times += [_as_datetime(jobs["started"]), _as_datetime(jobs["ended"])]
    stamps = pd.concat(times).dropna() if times else pd.Series(dtype="datetime64[ns, UTC]")
    start = stamps.min() if len(stamps) else None
    end = stamps.max() if len(stamps) else None
    hit = calls["cache_hit"].fillna(False).astype(bool) if len(calls) else pd.Series(dtype=bool)
    requests = calls[~hit] if len(calls) else calls
    errors = int(_errors_mask(requests).sum()) if len(requests) else 0
    retries = int(requests["retried"].fillna(False).astype(bool).sum()) if len(requests) else 0
    hits = int(hit.sum())
    saved = 0.0
    if hits and len(requests):
        # each hit saved one request: its operation's median miss latency (overall if none)
        medians = requests.groupby(["service", "operation"])["latency"].median()
        overall = float(requests["latency"].median())
        keys = pd.MultiIndex.from_frame(calls.loc[hit, ["service", "operation"]])
        saved = float(medians.reindex(keys).fillna(overall).sum())
    if not hits and len(cache) and "hits" in cache.columns:
        hits = int(pd.to_numeric(cache["hits"], errors="coerce").fillna(0).sum())
    span = (end - start).total_seconds() if start is not None else None
    kpis = {
        "time span": f"{span:.1f} s" if span is not None else "no data",
        "API calls": f"{len(requests):,}",
        "retried attempts": f"{retries:,}",
        "errors": f"{errors:,}",
        "cache hits": f"{hits:,}",
        "API calls avoided": f"{hits:,}",
        "time saved by cache": f"{saved:.2f} s",
        "jobs": f"{len(jobs):,}",
    }
    data = {"kit": recorder.kit_name, "start": _fmt(start) if start is not None else None,
            "end": _fmt(end) if end is not None else None, "span_seconds": span,
            "api_calls": len(requests), "retried_attempts": retries, "errors": errors,
            "cache_hits": hits, "api_calls_avoided": hits, "seconds_saved_by_cache": saved,
            "jobs": len(jobs)}
    cards = "".join(f'<div class="kpi">{html.escape(k)}<b>{html.escape(v)}</b></div>'
                    for k, v in kpis.items())
    note = ('<p class="note">time saved by cache = each cache hit × the median latency of a '
            "real request for the same operation.</p>")
    when = (f"<p>{html.escape(_fmt(start))} → {html.escape(_fmt(end))}</p>"
            if start is not None else '<p class="nodata">no data recorded yet</p>')
    md = "\n".join(f"- **{k}**: {v}" for k, v in kpis.items())
    return Section("summary", "Run summary", f'{when}<div class="kpis">{cards}</div>{note}',
                   md, data)


def _latency(calls: pd.DataFrame, summary: pd.DataFrame, hist: pd.DataFrame) -> Section:
    api = summary[summary["kind"] == "api_call"].drop(columns=["kind"])
    api = api.sort_values("count", ascending=False) if len(api) else api
    ops = summary[summary["kind"] == "operation"].drop(columns=["kind"])
    chart = ""
    if len(hist) and hist["count"].sum():
        fig = _figure()
        ax = fig.add_subplot()
        labels = [_edge(lo) + "–" + _edge(hi) for lo, hi in zip(hist["low_ms"], hist["high_ms"],
                                                                strict=True)]
        ax.bar(range(len(hist)), hist["count"].to_numpy(), color="#1976d2")
        ax.set_xticks(range(len(hist)), labels, rotation=45, ha="right", fontsize=7)
        ax.set_xlabel("latency (ms)")
        ax.set_ylabel("requests")
        ax.set_title("API latency histogram (log-spaced buckets)", fontsize=10)
        chart = _png(fig)
    body = (chart + "<h3>API calls</h3>" + _table_html(api)
            + "<h3>Timed operations</h3>" + _table_html(ops))
    md = ("### API calls\n\n" + _table_md(api) + "\n\n### Latency histogram\n\n"
          + _table_md(hist[hist["count"] > 0] if len(hist) else hist)
          + "\n\n### Timed operations\n\n" + _table_md(ops))
    return Section("latency", "API latency by service and operation", body, md,
                   {"api_calls": _records(api), "operations": _records(ops),
                    "histogram": _records(hist)})


def _edge(ms: float) -> str:
    if math.isinf(ms):
        return "∞"
    return f"{ms:g}"


def _frame_section(key: str, title: str, df: pd.DataFrame, note: str = "") -> Section:
    note_html = f'<p class="note">{html.escape(note)}</p>' if note else ""
    return Section(key, title, note_html + _table_html(df),
                   (f"{note}\n\n" if note else "") + _table_md(df), _records(df))


def _jobs(jobs: pd.DataFrame) -> Section:
    if not len(jobs):
        return _frame_section("jobs", "Jobs timeline", jobs)
    df = jobs.assign(started=_as_datetime(jobs["started"]), ended=_as_datetime(jobs["ended"]))
    df = df.dropna(subset=["started"]).sort_values("started")
    counts = jobs.groupby(["map", "status"], dropna=False).size().rename("jobs").reset_index()
    chart = ""
    if len(df):
        shown = df.head(MAX_GANTT_JOBS)
        t0 = shown["started"].min()
        start_s = (shown["started"] - t0).dt.total_seconds().to_numpy()
        ended = shown["ended"].fillna(shown["started"])
        width = (ended - shown["started"]).dt.total_seconds().clip(lower=0).to_numpy()
        colours = shown["status"].map({"done": "#43a047", "ok": "#43a047", "failed": "#e53935",
                                       "cancelled": "#9e9e9e"}).fillna("#1e88e5")
        fig = _figure(9.0, max(2.0, min(12.0, 0.5 + 0.04 * len(shown))), bottom=0.5)
        ax = fig.add_subplot()
        ax.barh(range(len(shown)), width, left=start_s, color=colours.tolist(), height=0.8)
        ax.invert_yaxis()
        if len(shown) <= 40:
            ax.set_yticks(range(len(shown)),
                          [str(k)[:30] for k in shown["key"]], fontsize=7)
        else:
            ax.set_ylabel("jobs (by start time)")
        ax.set_xlabel("seconds since first job started")
        ax.set_title("Jobs timeline (green done, red failed, grey cancelled)", fontsize=10)
        chart = _png(fig)
        if len(df) > MAX_GANTT_JOBS:
            chart += (f'<p class="note">timeline shows the first {MAX_GANTT_JOBS} of '
                      f"{len(df)} jobs</p>")
    slow = df.sort_values("seconds", ascending=False)[
        ["map", "key", "status", "attempts", "seconds"]] if len(df) else df
    body = chart + "<h3>Jobs by status</h3>" + _table_html(counts) + "<h3>Slowest jobs</h3>" \
        + _table_html(slow, 15)
    md = "### Jobs by status\n\n" + _table_md(counts) + "\n\n### Slowest jobs\n\n" \
        + _table_md(slow, 15)
    return Section("jobs", "Jobs timeline", body, md,
                   {"by_status": _records(counts), "jobs": _records(df.head(1000))})


def _resources(res: pd.DataFrame) -> Section:
    if not len(res):
        return _frame_section("resources", "Resource usage over time", res)
    df = _every(res.sort_values("time"))
    t = (df["time"] - df["time"].min()).dt.total_seconds().to_numpy()
    fig = _figure(9.0, 4.2, bottom=0.5)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    ax1.plot(t, df["cpu_percent"].astype("float64").to_numpy(), color="#e53935", label="CPU %")
    ax1.plot(t, df["memory_percent"].astype("float64").to_numpy(), color="#8e24aa",
             label="system memory %")
    ax1.set_ylabel("%")
    ax1.legend(fontsize=7, loc="upper left")
    ax2.plot(t, df["rss_bytes"].astype("float64").to_numpy() / 2**20, color="#1e88e5",
             label="RSS MiB")
    ax2.plot(t, (df["net_sent_bytes"] + df["net_recv_bytes"]).astype("float64").to_numpy()
             / 2**20, color="#43a047", label="network MiB (cumulative)")
    ax2.set_ylabel("MiB")
    ax2.set_xlabel("seconds")
    ax2.legend(fontsize=7, loc="upper left")
    ax1.set_title("Resource usage", fontsize=10)
    chart = _png(fig)
    numeric = res.drop(columns=["time"]).astype("float64")
    stats = numeric.agg(["min", "mean", "max"]).T.reset_index().rename(
        columns={"index": "measure"})
    note = (f"{len(res)} samples; disk and network bytes are cumulative since the sampler "
            "started")
    return Section("resources", "Resource usage over time",
                   chart + f'<p class="note">{html.escape(note)}</p>' + _table_html(stats),
                   note + "\n\n" + _table_md(stats), _records(stats))


def _errors(calls: pd.DataFrame, ops: pd.DataFrame, jobs: pd.DataFrame) -> Section:
    import pandas as pd

    parts: list[pd.DataFrame] = []
    if len(calls):
        bad = calls[_errors_mask(calls)]
        if len(bad):
            grouped = bad.assign(error_code=bad["error_code"].fillna(
                "HTTP " + bad["http_status"].astype(str))).groupby(
                ["service", "operation", "region", "error_code"], dropna=False).size()
            api = grouped.rename("count").reset_index()
            parts.append(pd.DataFrame({
                "where": api["service"] + "." + api["operation"] + " @ "
                + api["region"].fillna("default").astype(str),
                "error": api["error_code"].astype(str), "count": api["count"],
                "suggestion": [suggest_for_code(code, service, op, region)
                               for code, service, op, region in zip(
                                   api["error_code"], api["service"], api["operation"],
                                   api["region"], strict=True)],
            }))
    if len(ops):
        bad = ops[~ops["ok"].fillna(False).astype(bool)]
        if len(bad):
            grouped = bad.groupby(["name", "error"], dropna=False).size().rename("count")
            grouped = grouped.reset_index()
            parts.append(pd.DataFrame({"where": "timer " + grouped["name"].astype(str),
                                       "error": grouped["error"].astype(str),
                                       "count": grouped["count"], "suggestion": ""}))
    if len(jobs):
        bad = jobs[jobs["status"].astype(str).isin(["failed", "error", "timeout"])]
        if len(bad):
            grouped = bad.groupby(["map", "error", "suggestion"], dropna=False).size()
            grouped = grouped.rename("count").reset_index()
            parts.append(pd.DataFrame({"where": "jobs " + grouped["map"].astype(str),
                                       "error": grouped["error"].astype(str),
                                       "count": grouped["count"],
                                       "suggestion": grouped["suggestion"].fillna("")
                                       .astype(str)}))
    df = (pd.concat(parts, ignore_index=True).sort_values("count", ascending=False)
          if parts else pd.DataFrame(columns=["where", "error", "count", "suggestion"]))
    return _frame_section("errors", "Errors and what to do", df)


def _settings(settings: Settings | None) -> Section:
    import pandas as pd

    if settings is None:
        return _frame_section("settings", "Settings", pd.DataFrame())
    rows = [{"setting": f.name, "value": str(getattr(settings, f.name))}
            for f in dataclasses.fields(settings)]
    return _frame_section("settings", "Settings", pd.DataFrame(rows))


# ---------------------------------------------------------------- Report
class Report:
    """A built report: shows inline in Jupyter; ``save()`` writes .html, .md or .json."""

    def __init__(self, title: str, sections: list[Section], created: str):
        self.title = title
        self.sections = sections
        self.created = created

    @classmethod
    def build(cls, *, title: str, recorder: Recorder, cache_stats: Any = None,
              pool_stats: Any = None, settings: Settings | None = None) -> Report:
        """Compute every section from ``recorder`` and the cache/pool stats frames."""
        from .metrics import latency_histogram, latency_summary

        calls = recorder.frame("api_calls")
        ops = recorder.frame("operations")
        jobs = recorder.frame("jobs")
        cache = _as_frame(cache_stats)
        pool = _as_frame(pool_stats)
        summary = latency_summary(calls, ops)
        hist = latency_histogram(calls)
        sections = [
            _run_summary(recorder, calls, ops, jobs, cache),
            _latency(calls, summary, hist),
            _frame_section("cache", "Cache hit rates", cache,
                           "by tier and kind, from the kit's cache" if len(cache) else ""),
            _frame_section("pool", "Client pool reuse", pool,
                           "connections reused = requests that did not open a connection"
                           if len(pool) else ""),
            _jobs(jobs),
            _resources(recorder.frame("resources")),
            _errors(calls, ops, jobs),
            _settings(settings),
        ]
        created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        return cls(title, sections, created)

    def section(self, key: str) -> Section:
        """One section by key (summary, latency, cache, pool, jobs, resources, errors…)."""
        for s in self.sections:
            if s.key == key:
                return s
        raise UsageError(f"report has no section {key!r}",
                         suggestion="use one of " + ", ".join(s.key for s in self.sections))

    def _body(self) -> str:
        parts = [f'<div class="geuse-report"><h1>{html.escape(self.title)}</h1>'
                 f'<p class="note">generated {html.escape(self.created)} by geuse_nb</p>']
        for s in self.sections:
            parts.append(f'<section id="{s.key}"><h2>{html.escape(s.title)}</h2>{s.html}'
                         "</section>")
        parts.append("</div>")
        return "".join(parts)

    def _repr_html_(self) -> str:
        return f"<style>{_CSS}</style>{self._body()}"

    def to_html(self) -> str:
        """The whole self-contained HTML document."""
        return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
                f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head>"
                f"<body>{self._body()}</body></html>")

    def to_markdown(self) -> str:
        """The report as Markdown (tables, no charts)."""
        parts = [f"# {self.title}", f"_generated {self.created} by geuse_nb_"]
        parts += [f"## {s.title}\n\n{s.markdown}" for s in self.sections]
        return "\n\n".join(parts) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """The report's data (no charts), JSON-ready."""
        return {"title": self.title, "created": self.created,
                "sections": {s.key: {"title": s.title, "data": s.data} for s in self.sections}}

    def save(self, path: str | Path) -> Path:
        """Write ``.html``, ``.md`` or ``.json`` (chosen by the suffix); returns the path."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix in (".html", ".htm"):
            text = self.to_html()
        elif suffix in (".md", ".markdown"):
            text = self.to_markdown()
        elif suffix == ".json":
            text = json.dumps(self.to_dict(), indent=2, default=str)
        else:
            raise UsageError(f"cannot save a report as {path.name!r}: unknown suffix "
                             f"{path.suffix or '(none)'!r}",
                             suggestion="use one of " + ", ".join(FORMATS))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def __repr__(self) -> str:
        return f"<geuse_nb.Report {self.title!r}: {len(self.sections)} sections>"
