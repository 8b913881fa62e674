"""The report as one HTML document, Markdown or JSON.

HTML: inline CSS, charts as data-URI PNGs, no script, no external stylesheet, font or
image (opened offline it is complete). Colours are CSS variables switched by
``prefers-color-scheme: dark``; charts sit on white cards in both schemes. The page is
``max-width: 1100px`` and wide tables scroll inside their box, so 1,000 px is enough;
``@media print`` drops the scroll boxes and keeps sections from splitting a chart.
"""

from __future__ import annotations

import html
import json
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._sections import Section

CSS = """
.geuse-report{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--head:#f6f8fa;--card:#fff;
 --ok:#2da44e;--bad:#cf222e;--warn:#d4a72c;--busy:#0969da;--dim:#8c959f;--track:#eef1f4;
 font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:var(--fg);
 max-width:1100px;margin:0 auto;padding:0 12px;font-size:14px;line-height:1.45}
@media (prefers-color-scheme: dark){.geuse-report{--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;
 --head:#151b23;--card:#fff;--track:#262c36}
 body:has(.geuse-report){background:#0d1117}}
.geuse-report h1{font-size:22px;margin:10px 0 4px}
.geuse-report h2{font-size:17px;border-bottom:1px solid var(--line);padding-bottom:3px;
 margin-top:26px}
.geuse-report h3{font-size:14px;margin:14px 0 4px}
.geuse-report .scroll{overflow-x:auto;max-width:100%}
.geuse-report table{border-collapse:collapse;margin:6px 0;font-size:12px}
.geuse-report th,.geuse-report td{border:1px solid var(--line);padding:3px 7px;
 text-align:right;vertical-align:top}
.geuse-report th{background:var(--head)}
.geuse-report td:first-child,.geuse-report th:first-child{text-align:left}
.geuse-report .kpis{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0}
.geuse-report .kpi{border:1px solid var(--line);border-radius:6px;padding:6px 12px;
 min-width:130px;color:var(--muted);font-size:12px}
.geuse-report .kpi b{display:block;font-size:18px;color:var(--fg)}
.geuse-report .nodata{color:var(--muted);font-style:italic}
.geuse-report .note{color:var(--muted);font-size:12px}
.geuse-report img{max-width:100%;height:auto;background:var(--card);border-radius:4px}
.geuse-report .tl-legend{display:flex;flex-wrap:wrap;gap:12px;font-size:12px;margin:6px 0}
.geuse-report .tl-key i{display:inline-block;width:12px;height:10px;margin-right:4px;
 border-radius:2px}
.geuse-report .tl-row{display:grid;grid-template-columns:minmax(9em,16em) 1fr 4.5em;gap:8px;
 align-items:center;font-size:12px;padding:1px 0}
.geuse-report .tl-label{overflow-wrap:anywhere;text-align:right}
.geuse-report .tl-sec{text-align:right;color:var(--muted)}
.geuse-report .tl-track{position:relative;height:12px;background:var(--track);
 border-radius:2px}
.geuse-report .tl-axis .tl-track{background:none;height:14px;color:var(--muted)}
.geuse-report .tl-axis .tl-track span{position:absolute;transform:translateX(-50%);
 font-size:11px;white-space:nowrap}
.geuse-report .tl-axis .tl-track span:first-child{transform:none}
.geuse-report .tl-axis .tl-track span:last-child{transform:translateX(-100%)}
.geuse-report .tl-bar{position:absolute;top:1px;bottom:1px;border-radius:2px;min-width:2px}
.geuse-report .tl-group{font-weight:600;margin:10px 0 2px;border-bottom:1px dashed var(--line)}
.geuse-report .tl-more{color:var(--muted);font-size:12px;padding-left:2em}
.geuse-report .st-done{background:var(--ok)}.geuse-report .st-failed{background:var(--bad)}
.geuse-report .st-timed_out{background:#e16f24}.geuse-report .st-cancelled{background:var(--dim)}
.geuse-report .st-skipped{background:var(--track);outline:1px dashed var(--dim)}
.geuse-report .st-running,.geuse-report .st-pending{background:var(--busy)}
.geuse-report .ratio-better{color:var(--ok);font-weight:600}
.geuse-report .ratio-worse{color:var(--bad);font-weight:600}
@media print{.geuse-report{max-width:none;font-size:11px}
 .geuse-report .scroll{overflow:visible}
 .geuse-report section,.geuse-report img,.geuse-report .tl-row{break-inside:avoid}
 .geuse-report .tl-bar,.geuse-report .tl-key i{-webkit-print-color-adjust:exact;
  print-color-adjust:exact}}
"""


def body(title: str, created: str, sections: list[Section]) -> str:
    nav = " · ".join(f'<a href="#{html.escape(s.key, quote=True)}">{html.escape(s.title)}</a>'
                     for s in sections)
    parts = [f'<div class="geuse-report"><h1>{html.escape(title)}</h1>'
             f'<p class="note">generated {html.escape(created)} by geuse_nb</p>'
             f'<p class="note">{nav}</p>']
    parts += [f'<section id="{html.escape(s.key, quote=True)}" class="kind-{s.kind}">'
              f"<h2>{html.escape(s.title)}</h2>{s.html}</section>" for s in sections]
    parts.append("</div>")
    return "".join(parts)


def document(title: str, created: str, sections: list[Section]) -> str:
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="color-scheme" content="light dark">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>"
            f"<body>{body(title, created, sections)}</body></html>")


def fragment(title: str, created: str, sections: list[Section]) -> str:
    return f"<style>{CSS}</style>{body(title, created, sections)}"


def markdown(title: str, created: str, sections: list[Section]) -> str:
    parts = [f"# {title}", f"_generated {created} by geuse_nb_"]
    parts += [f"## {s.title}\n\n{s.markdown}" for s in sections]
    return "\n\n".join(parts) + "\n"


def as_dict(title: str, created: str, sections: list[Section],
            headline: dict[str, Any]) -> dict[str, Any]:
    return {"format": "geuse_nb.report/2", "title": title, "created": created,
            "headline": headline,
            "sections": {s.key: {"title": s.title, "kind": s.kind, "note": s.note,
                                 "data": s.data} for s in sections}}


def _clean(value: Any) -> Any:
    """NaN and ±inf → null (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def as_json(data: dict[str, Any]) -> str:
    return json.dumps(_clean(data), indent=1, default=str, allow_nan=False)
