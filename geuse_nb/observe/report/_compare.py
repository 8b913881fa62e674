"""Two runs side by side: headline figures and per-operation latencies, with ratios.

Works on the JSON form of a report (``Report.to_dict()``), so a report built now and one
loaded from a saved ``.json`` compare alike. Ratios are B ÷ A (the second run over the
first, the baseline): below 1 means B was smaller (faster, fewer requests).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._sections import Section, frame_section

if TYPE_CHECKING:
    import pandas as pd

HEADLINE = (("wall_s", "wall time (s)"), ("aws_serial_s", "in AWS requests, serial sum (s)"),
            ("aws_in_flight_s", "with a request in flight (s)"),
            ("parallel_saved_s", "saved by parallelism (s)"), ("api_calls", "API requests"),
            ("cache_hits", "cache hits"), ("cache_saved_wall_s", "saved by cache, wall (s)"),
            ("errors", "errors"), ("expected_not_found", "expected not found"),
            ("retried", "retried attempts"), ("jobs", "jobs"),
            ("jobs_failed", "jobs failed or timed out"), ("p50_ms", "request p50 (ms)"),
            ("p95_ms", "request p95 (ms)"))
OP_FIGURES = (("requests", "requests"), ("cache hits", "cache hits"), ("p50 (ms)", "p50 (ms)"),
              ("p95 (ms)", "p95 (ms)"), ("time in requests (s)", "time in requests (s)"))


def _ratio(a: Any, b: Any) -> float:
    try:
        a, b = float(a), float(b)
    except (TypeError, ValueError):
        return float("nan")
    if a != a or b != b or a == 0:
        return float("nan")
    return b / a


def headline_frame(a: dict[str, Any], b: dict[str, Any]) -> pd.DataFrame:
    import pandas as pd

    ha, hb = a.get("headline", {}), b.get("headline", {})
    rows = [{"measure": label, "A": ha.get(key), "B": hb.get(key),
             "B ÷ A": _ratio(ha.get(key), hb.get(key))} for key, label in HEADLINE]
    return pd.DataFrame(rows)


def _ops(report: dict[str, Any]) -> pd.DataFrame:
    import pandas as pd

    rows = report.get("sections", {}).get("latency", {}).get("data", {}).get("api_calls", [])
    df = pd.DataFrame(rows)
    if not len(df) or "operation" not in df:
        return pd.DataFrame(columns=["operation", *(k for k, _ in OP_FIGURES)])
    return df


def operations_frame(a: dict[str, Any], b: dict[str, Any]) -> pd.DataFrame:
    import pandas as pd

    oa, ob = _ops(a), _ops(b)
    keep = ["operation", *(k for k, _ in OP_FIGURES)]
    merged = oa.reindex(columns=keep).merge(ob.reindex(columns=keep), on="operation",
                                            how="outer", suffixes=(" A", " B"))
    out = pd.DataFrame({"operation": merged["operation"]})
    for key, label in OP_FIGURES:
        out[f"{label} A"] = merged[f"{key} A"]
        out[f"{label} B"] = merged[f"{key} B"]
        if key != "cache hits":
            out[f"{label} B ÷ A"] = [_ratio(x, y) for x, y in
                                     zip(merged[f"{key} A"], merged[f"{key} B"], strict=True)]
    return out.sort_values("operation", ignore_index=True)


def compare_sections(a: dict[str, Any], b: dict[str, Any]) -> list[Section]:
    ta, tb = a.get("title", "A"), b.get("title", "B")
    who = f"A = {ta} ({a.get('created', '?')}); B = {tb} ({b.get('created', '?')}). "
    head = frame_section("compare_headline", "Headline figures, A vs B",
                         headline_frame(a, b),
                         who + "Ratios are B ÷ A: below 1, B was smaller or faster.",
                         kind="compare")
    ops = frame_section("compare_operations", "Per-operation latency, A vs B",
                        operations_frame(a, b),
                        "Real requests only (cache hits separately). An operation only one run "
                        "made has – on the other side.", kind="compare")
    return [head, ops]
