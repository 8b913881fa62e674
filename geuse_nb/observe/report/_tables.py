"""Tables in HTML, Markdown and JSON, with one missing-value mark and units in the headers.

Every table of the report passes through here, so a missing value reads ``–`` everywhere
(``None``, ``NaN``, ``pd.NA`` and ``NaT`` alike: the old report mixed ``–`` with ``<NA>``),
numbers get thousands separators, and no table prints more than ``MAX_TABLE_ROWS`` rows
(the JSON keeps every row of the aggregated tables, which are small by construction).
"""

from __future__ import annotations

import html
import json
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

MISSING = "–"
MAX_TABLE_ROWS = 50


def fmt(value: Any) -> str:
    """One cell as text: ``MISSING`` for every kind of missing value."""
    import pandas as pd

    if value is None or value is pd.NA or value is pd.NaT:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return MISSING
        if math.isinf(value):
            return "∞"
        if abs(value) >= 1e6:
            return f"{value:,.0f}"
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    if hasattr(value, "isoformat"):
        try:
            return str(value.isoformat(timespec="seconds"))
        except TypeError:
            return str(value.isoformat())
    try:
        if pd.isna(value):
            return MISSING
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item"):  # numpy scalars
        return fmt(value.item())
    return str(value)


def table_html(df: pd.DataFrame | None, limit: int = MAX_TABLE_ROWS, *,
               nodata: str = "no data") -> str:
    if df is None or not len(df):
        return f'<p class="nodata">{html.escape(nodata)}</p>'
    shown = df.head(limit)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(fmt(v))}</td>" for v in row) + "</tr>"
        for row in shown.itertuples(index=False, name=None))
    more = (f'<p class="note">showing {limit} of {len(df):,} rows</p>'
            if len(df) > limit else "")
    return (f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
            f"</table></div>{more}")


def _md_cell(value: Any) -> str:
    return fmt(value).replace("|", "\\|").replace("\n", " ")


def table_md(df: pd.DataFrame | None, limit: int = MAX_TABLE_ROWS, *,
             nodata: str = "no data") -> str:
    if df is None or not len(df):
        return f"_{nodata}_"
    shown = df.head(limit)
    lines = ["| " + " | ".join(_md_cell(c) for c in shown.columns) + " |",
             "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |"
              for row in shown.itertuples(index=False, name=None)]
    if len(df) > limit:
        lines.append(f"\n_showing {limit} of {len(df):,} rows_")
    return "\n".join(lines)


def records(df: pd.DataFrame | None, limit: int | None = None) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (missing values → null, times → ISO strings)."""
    if df is None or not len(df):
        return []
    if limit is not None:
        df = df.head(limit)
    out: list[dict[str, Any]] = json.loads(df.to_json(orient="records", date_format="iso"))
    return out


def note_html(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>' if text else ""


def as_frame(obj: Any) -> pd.DataFrame:
    import pandas as pd

    if obj is None:
        return pd.DataFrame()
    if isinstance(obj, pd.DataFrame):
        return obj
    return pd.DataFrame(obj)
