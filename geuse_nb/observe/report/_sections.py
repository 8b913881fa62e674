"""The section model, and the sections a runbook adds (``Report.add_section``).

A section is rendered once, when it is made: its HTML fragment, its Markdown and its
JSON data, so saving in any format is string joining. A runbook's section holds a
DataFrame (a table), a matplotlib Figure (a PNG, in the Markdown and the JSON too, as a
data URI, so every format carries it) or a str (a paragraph; blank lines split it).
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterable
from typing import Any

from ...errors import UsageError
from ._charts import figure_png_b64
from ._tables import as_frame, note_html, records, table_html, table_md

CONTENT_TYPES = "a pandas DataFrame, a matplotlib Figure or a str"


@dataclasses.dataclass
class Section:
    """One report section: HTML and Markdown renderings plus its data for JSON."""

    key: str
    title: str
    html: str
    markdown: str
    data: Any
    kind: str = "performance"  # "performance", "runbook" (add_section) or "compare"
    note: str = ""


def frame_section(key: str, title: str, df: Any, note: str = "", *,
                  nodata: str = "no data", kind: str = "performance") -> Section:
    """A section that is one table (with an optional note above it)."""
    frame = as_frame(df)
    return Section(key, title, note_html(note) + table_html(frame, nodata=nodata),
                   (f"{note}\n\n" if note else "") + table_md(frame, nodata=nodata),
                   records(frame), kind=kind, note=note)


def slug(title: str, taken: Iterable[str]) -> str:
    """A section key from a title, unique among ``taken`` (``spot-pick``, ``spot-pick-2``)."""
    base = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "section"
    used = set(taken)
    key, n = base, 2
    while key in used:
        key, n = f"{base}-{n}", n + 1
    return key


def user_section(key: str, title: str, content: Any, note: str = "") -> Section:
    """The section ``Report.add_section(title, content, note=)`` appends."""
    import pandas as pd

    if not isinstance(title, str) or not title.strip():
        raise UsageError(f"add_section(title={title!r}): a section needs a title",
                         suggestion="pass a short heading, e.g. "
                                    "rep.add_section('Spot pick', frame)")
    if isinstance(content, pd.Series):
        content = content.to_frame()
    if isinstance(content, pd.DataFrame):
        frame = content.reset_index() if _named_index(content) else content
        sec = frame_section(key, title, frame, note, nodata="(empty table)", kind="runbook")
        sec.data = {"type": "table", "rows": sec.data, "columns": [str(c) for c in frame]}
        return sec
    if _is_figure(content):
        png = figure_png_b64(content)
        alt = html.escape(title, quote=True)
        body = f'<img alt="{alt}" src="data:image/png;base64,{png}">'
        md = f"![{title}](data:image/png;base64,{png})"
        return Section(key, title, note_html(note) + body, (f"{note}\n\n" if note else "") + md,
                       {"type": "figure", "png_base64": png}, kind="runbook", note=note)
    if isinstance(content, str):
        paras = [p.strip() for p in re.split(r"\n\s*\n", content) if p.strip()]
        body = "".join(f"<p>{html.escape(p)}</p>" for p in paras)
        return Section(key, title, note_html(note) + body,
                       (f"{note}\n\n" if note else "") + "\n\n".join(paras),
                       {"type": "text", "text": content}, kind="runbook", note=note)
    raise UsageError(f"add_section({title!r}, <{type(content).__name__}>): cannot show a "
                     f"{type(content).__name__} in a report",
                     suggestion=f"pass {CONTENT_TYPES} (e.g. pd.DataFrame(rows) or str(x))")


def _named_index(df: Any) -> bool:
    return any(name is not None for name in df.index.names)


def _is_figure(obj: Any) -> bool:
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        return False
    return isinstance(obj, Figure)


def loaded_section(key: str, entry: dict[str, Any]) -> Section:
    """A section read back from a saved JSON report: its data, shown as tables."""
    import pandas as pd

    title = str(entry.get("title", key))
    data = entry.get("data")
    note = str(entry.get("note", ""))
    kind = str(entry.get("kind", "performance"))
    parts_html: list[str] = [note_html(note)]
    parts_md: list[str] = [note] if note else []
    if isinstance(data, dict) and data.get("type") == "figure":
        png = str(data.get("png_base64", ""))
        parts_html.append(f'<img alt="{html.escape(title, quote=True)}" '
                          f'src="data:image/png;base64,{png}">')
        parts_md.append(f"![{title}](data:image/png;base64,{png})")
    elif isinstance(data, dict) and data.get("type") == "text":
        text = str(data.get("text", ""))
        parts_html.append(f"<p>{html.escape(text)}</p>")
        parts_md.append(text)
    else:
        tables = _tables_of(data)
        for name, rows in tables:
            frame = pd.DataFrame(rows)
            if name:
                parts_html.append(f"<h3>{html.escape(name)}</h3>")
                parts_md.append(f"### {name}")
            parts_html.append(table_html(frame))
            parts_md.append(table_md(frame))
    return Section(key, title, "".join(parts_html), "\n\n".join(parts_md), data, kind=kind,
                   note=note)


def _tables_of(data: Any) -> list[tuple[str, list[dict[str, Any]]]]:
    if isinstance(data, list):
        return [("", data)]
    if isinstance(data, dict):
        if data.get("type") == "table":
            return [("", list(data.get("rows", [])))]
        out: list[tuple[str, list[dict[str, Any]]]] = []
        scalars = {k: v for k, v in data.items() if not isinstance(v, list | dict)}
        if scalars:
            out.append(("", [scalars]))
        out += [(k.replace("_", " "), v) for k, v in data.items()
                if isinstance(v, list) and all(isinstance(r, dict) for r in v)]
        return out
    return []
