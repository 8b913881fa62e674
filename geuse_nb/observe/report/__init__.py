"""The performance report: one self-contained HTML page (or Markdown, or JSON) of a run.

``Report.build(title=, recorder=, cache_stats=, pool_stats=, settings=, suggest=)`` reads
the recorder once (``_data``) and renders every section once:

1. **Where the time went** (``_summary``): wall time, time in AWS requests, what
   parallelism and the cache saved (wall-clock, and how it is computed), what to look at;
2. **Per region** (and **Per account** when calls ran in other accounts, ``_accounts``),
   **Over time** and **Latency by operation** (``_perf``);
3. **Jobs timeline** (``_timeline``: HTML bars, labels never cut);
4. **Cache**, **Client pool**, **Resources**, **Errors and what to do** (``_health``);
5. the runbook's own sections (``add_section``), then **Settings**.

The object displays inline in a notebook; ``save(path)`` writes ``.html`` (``_render``),
``.md`` or ``.json``; ``Report.load(json_path)`` reads a saved JSON back and
``a.compare(b)`` sets two runs side by side (``_compare``). The report imports nothing
from the AWS layer: what to suggest for an API error code is the ``suggest`` policy the
Kit passes in. Over 100 000 api_calls rows, 2,000 jobs and 600 resource samples, build +
save took 3.1–3.2 s on the 2-core VM under load 7 (first build 4.4 s, importing
matplotlib) and wrote 143 KiB (the older ``bench/bench_metrics.py``, now in
``bench/README.md``; targets < 5 s, < 1 MB).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import UsageError
from . import _render
from ._accounts import account_section, account_table
from ._compare import compare_sections
from ._data import read
from ._health import (
    Suggest,
    cache_section,
    errors_section,
    errors_table,
    pool_section,
    resources_section,
    settings_section,
)
from ._perf import (
    latency_section,
    operation_table,
    over_time_section,
    region_section,
    region_table,
)
from ._sections import CONTENT_TYPES, Section, loaded_section, slug, user_section
from ._summary import headline, summary_section, things_to_look_at
from ._tables import as_frame
from ._timeline import jobs_section

if TYPE_CHECKING:
    from ...config import Settings
    from ..metrics import Recorder

__all__ = ["CONTENT_TYPES", "FORMATS", "Report", "Section", "Suggest"]

FORMATS = (".html", ".md", ".json")


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="seconds")


def _timers(ops: Any) -> Any:
    from ..analysis import latency_summary

    if not len(ops):
        return ops.iloc[:0, :0]
    t = latency_summary(ops.iloc[:0].reindex(columns=["service", "operation", "latency",
                                                      "http_status", "error_code",
                                                      "cache_hit"]), ops)
    return t.drop(columns=["kind", "cache_hits"]).rename(columns={
        "count": "runs", "p50_ms": "p50 (ms)", "p95_ms": "p95 (ms)", "p99_ms": "p99 (ms)",
        "max_ms": "max (ms)", "total_s": "total (s)"})


class Report:
    """A built report: shows inline in Jupyter; ``save()`` writes .html, .md or .json."""

    def __init__(self, title: str, sections: list[Section], created: str,
                 headline: dict[str, Any] | None = None, *, redact: bool = False) -> None:
        self.title = title
        self.sections = sections
        self.created = created
        self.headline: dict[str, Any] = dict(headline or {})
        self.redact = bool(redact)  # mask account ids, ARNs, access key ids (observe.redact)

    def _out(self, text: str) -> str:
        """Every output goes through here: masked when ``redact`` is set."""
        if not self.redact:
            return text
        from ..redact import redact

        return redact(text)

    @classmethod
    def build(cls, *, title: str, recorder: Recorder, cache_stats: Any = None,
              pool_stats: Any = None, settings: Settings | None = None,
              suggest: Suggest | None = None, redact: bool = False) -> Report:
        """Compute every section from ``recorder`` and the cache/pool stats frames.
        ``redact=True``: every output masks account ids, ARNs and access key ids.
        ``suggest(code, service, operation, region) -> str`` fills the errors table's
        suggestions for API errors (jobs carry their own, from the engine)."""
        from ..analysis import latency_histogram

        data = read(recorder)
        regions = region_table(data)
        per_account = account_table(data)  # only when some call ran in another account
        ops = operation_table(data)
        errors = errors_table(data, suggest)
        head = headline(data)
        findings = things_to_look_at(head, regions, ops, errors)
        end = data.t0 + data.wall_s if data.t0 is not None else None
        histogram = latency_histogram(data.calls) if len(data.calls) else data.calls
        interval = getattr(settings, "metrics_collection_interval", None)
        sections = [
            summary_section(head, findings, _iso(data.t0), _iso(end)),
            region_section(regions),
            *([account_section(per_account)] if per_account is not None else []),
            over_time_section(data),
            jobs_section(data),
            latency_section(data, ops, _timers(data.ops), histogram),
            cache_section(as_frame(cache_stats)),
            pool_section(as_frame(pool_stats)),
            resources_section(data.resources, interval),
            errors_section(errors),
            settings_section(settings),
        ]
        created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        return cls(title, sections, created, head, redact=redact)

    # ------------------------------------------------------------ sections
    def add_section(self, title: str, content: Any, *, note: str = "") -> Report:
        """Add a runbook's own section (a DataFrame, a matplotlib Figure or a str) after
        the performance sections; returns the report, so calls chain."""
        section = user_section(slug(title if isinstance(title, str) else "",
                                    (s.key for s in self.sections)), title, content, note)
        at = next((i for i, s in enumerate(self.sections) if s.key == "settings"),
                  len(self.sections))
        self.sections.insert(at, section)
        return self

    def section(self, key: str) -> Section:
        """One section by key (summary, regions, over_time, jobs, latency, cache, pool…)."""
        from ...errors import did_you_mean

        for s in self.sections:
            if s.key == key:
                return s
        keys = [s.key for s in self.sections]
        raise UsageError(f"report has no section {key!r}{did_you_mean(key, keys)}",
                         suggestion="use one of " + ", ".join(keys))

    # ------------------------------------------------------------ two runs
    def compare(self, other: Report, *, title: str | None = None) -> Report:
        """This run (A, the baseline) beside ``other`` (B): headline figures and
        per-operation latencies with B ÷ A ratios, as a report of its own."""
        if not isinstance(other, Report):
            raise UsageError(f"compare() takes a Report, not {type(other).__name__}",
                             suggestion="load a saved one with Report.load('run.json')")
        a, b = self.to_dict(), other.to_dict()
        created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        return Report(title or f"{self.title} vs {other.title}", compare_sections(a, b),
                      created, redact=self.redact or other.redact)

    @classmethod
    def load(cls, path: str | Path) -> Report:
        """A report saved as ``.json`` (``save("run.json")``), to show or ``compare``."""
        path = Path(path)
        if path.suffix.lower() != ".json":
            raise UsageError(f"cannot load a report from {path.name!r}: only .json keeps "
                             "the figures", suggestion="save the run with rep.save('x.json')")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"no report at {str(path)!r}",
                             suggestion="check the path (save with rep.save('x.json'))") from None
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path.name!r} is not JSON ({exc})",
                             suggestion="pass a file written by Report.save('x.json')") from None
        if not isinstance(raw, dict) or "sections" not in raw:
            raise UsageError(f"{path.name!r} is not a geuse_nb report",
                             suggestion="pass a file written by Report.save('x.json')")
        sections = [loaded_section(k, v) for k, v in raw["sections"].items()]
        return cls(str(raw.get("title", path.stem)), sections, str(raw.get("created", "")),
                   raw.get("headline") or {})

    # ------------------------------------------------------------ output
    def _repr_html_(self) -> str:
        return self._out(_render.fragment(self.title, self.created, self.sections))

    def to_html(self) -> str:
        """The whole self-contained HTML document."""
        return self._out(_render.document(self.title, self.created, self.sections))

    def to_markdown(self) -> str:
        """The report as Markdown (tables; a runbook's figures as data-URI images)."""
        return self._out(_render.markdown(self.title, self.created, self.sections))

    def to_dict(self) -> dict[str, Any]:
        """The report's data (no performance charts), JSON-ready."""
        data = _render.as_dict(self.title, self.created, self.sections, self.headline)
        if self.redact:
            data = json.loads(self._out(_render.as_json(data)))
        return data

    def save(self, path: str | Path) -> Path:
        """Write ``.html``, ``.md`` or ``.json`` (chosen by the suffix); returns the path."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix in (".html", ".htm"):
            text = self.to_html()
        elif suffix in (".md", ".markdown"):
            text = self.to_markdown()
        elif suffix == ".json":
            text = self._out(_render.as_json(self.to_dict()))
        else:
            raise UsageError(f"cannot save a report as {path.name!r}: unknown suffix "
                             f"{path.suffix or '(none)'!r}",
                             suggestion="use one of " + ", ".join(FORMATS))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def __repr__(self) -> str:
        return f"<geuse_nb.Report {self.title!r}: {len(self.sections)} sections>"
