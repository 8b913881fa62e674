"""Cache, client pool, resources, errors and settings: the tables about the kit itself.

Honest tables: units in every header, cache hits never counted as calls, pool reuse shown
only where a client made more than one request (one request cannot reuse a connection,
so 0 there says nothing), and lookup time labelled with what it timed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._charts import MAX_PLOT_POINTS, resources_chart
from ._data import RunData, epoch_seconds
from ._sections import Section, frame_section
from ._tables import note_html, records, table_html, table_md
from ._timeline import job_errors

if TYPE_CHECKING:
    import pandas as pd

Suggest = Callable[[str, str, str, str | None], str]
"""``suggest(error_code, service, operation, region) -> str``: what to do about an API
error (the Kit passes ``aws.errors.suggest_for_code``; the report imports no AWS code)."""


def cache_section(cache: pd.DataFrame) -> Section:
    import numpy as np

    if not len(cache):
        return frame_section("cache", "Cache", cache, nodata="no cache lookups recorded")
    df = cache.copy()
    hits = df.get("hits", 0)
    misses = df.get("misses", 0)
    h, m = np.asarray(hits), np.asarray(misses)
    timed = np.where(h + m == 0, "none", np.where(
        h == 0, "misses only", np.where(m == 0, "hits only", "hits and misses")))
    out = df.rename(columns={"hit_rate": "hit rate (%)", "bytes": "size (bytes)",
                             "mean_us": "lookup mean (µs)", "p95_us": "lookup p95 (µs)"})
    if "hit rate (%)" in out:
        out["hit rate (%)"] = out["hit rate (%)"].astype("float64") * 100.0
    if "lookup mean (µs)" in out:
        out.insert(list(out.columns).index("lookup mean (µs)"), "lookups timed", timed)
    note = ("Per tier and kind. Lookup time covers lookups that ended in that tier: on a row "
            "with no hits it is the time of misses (the disk tier's first miss includes "
            "opening the cache on disk), not of hits.")
    return frame_section("cache", "Cache", out, note)


def pool_section(pool: pd.DataFrame) -> Section:
    import numpy as np

    if not len(pool):
        return frame_section("pool", "Client pool", pool, nodata="no clients made")
    df = pool.rename(columns={"clients_created": "clients", "connections_opened":
                              "connections opened", "last_used": "last used (UTC)"})
    if "reuse_rate" in df:
        many = df["requests"].astype("float64") > 1
        df["connection reuse (%)"] = np.where(many, df.pop("reuse_rate").astype("float64")
                                              * 100.0, np.nan)
    note = ("Connection reuse = share of requests that did not open a connection; shown only "
            "where a client made more than one request (one request cannot reuse one).")
    return frame_section("pool", "Client pool", df, note)


def resources_section(resources: pd.DataFrame, interval: float | None) -> Section:
    import numpy as np

    key, title = "resources", "Resources"
    if len(resources) < 2:
        why = ("no samples were taken (the kit's resource sampler did not run)"
               if not len(resources) else
               "only one sample was taken, so there is no change to show")
        return Section(key, title, f'<p class="nodata">{why}</p>', f"_{why}_", {"reason": why})
    df = resources.sort_values("time")
    step = max(1, -(-len(df) // MAX_PLOT_POINTS))
    df = df.iloc[::step]
    t = epoch_seconds(df["time"])
    t = t - t[0]
    chart = resources_chart(
        t, df["cpu_percent"].astype("float64").to_numpy(),
        df["memory_percent"].astype("float64").to_numpy(),
        df["rss_bytes"].astype("float64").to_numpy() / 2**20,
        (df["net_sent_bytes"] + df["net_recv_bytes"]).astype("float64").to_numpy() / 2**20)
    numeric = resources.drop(columns=["time"]).astype("float64")
    stats = numeric.agg(["min", "mean", "max"]).T.reset_index().rename(
        columns={"index": "measure"})
    units = {"cpu_percent": "CPU (%)", "rss_bytes": "RSS (bytes)",
             "memory_percent": "system memory (%)", "disk_read_bytes": "disk read (bytes)",
             "disk_write_bytes": "disk written (bytes)", "net_sent_bytes": "net sent (bytes)",
             "net_recv_bytes": "net received (bytes)"}
    stats["measure"] = stats["measure"].map(lambda m: units.get(m, m))
    gaps = np.diff(t)
    note = (f"{len(resources):,} samples over {t[-1]:.1f} s (every {np.median(gaps):.2f} s; "
            "the sampler starts fast and slows as the run grows"
            + (f", up to every {interval:g} s" if interval else "")
            + "); disk and network bytes are cumulative since the kit started.")
    return Section(key, title, note_html(note) + chart + table_html(stats),
                   note + "\n\n" + table_md(stats), records(stats), note=note)


def errors_table(data: RunData, suggest: Suggest | None) -> pd.DataFrame:
    import pandas as pd

    parts: list[pd.DataFrame] = []
    req = data.requests
    if len(req):
        bad = req[req["err"]]
        if len(bad):
            code = bad["error_code"].fillna("HTTP " + bad["http_status"].astype(str))
            api = bad.assign(code=code).groupby(
                ["service", "operation", "region", "code"], sort=False).size()
            g = api.rename("count").reset_index()
            tips = [(suggest(str(c), str(s), str(o), None if r == "default" else str(r))
                     if suggest else "") or ""
                    for c, s, o, r in zip(g["code"], g["service"], g["operation"], g["region"],
                                          strict=True)]
            parts.append(pd.DataFrame({
                "where": g["service"] + "." + g["operation"] + " @ " + g["region"],
                "error": g["code"].astype(str), "count": g["count"], "suggestion": tips}))
    ops = data.ops
    if len(ops):
        bad = ops[~ops["ok"].fillna(False).astype(bool)]
        if len(bad):
            g = bad.assign(error=bad["error"].fillna("").astype(str)).groupby(
                ["name", "error"], sort=False).size().rename("count").reset_index()
            parts.append(pd.DataFrame({"where": "timer " + g["name"].astype(str),
                                       "error": g["error"], "count": g["count"],
                                       "suggestion": ""}))
    jobs = job_errors(data.jobs)
    if jobs is not None:
        parts.append(jobs)
    if not parts:
        return pd.DataFrame(columns=["where", "error", "count", "suggestion"])
    return pd.concat(parts, ignore_index=True).sort_values("count", ascending=False,
                                                           ignore_index=True, kind="stable")


def errors_section(table: pd.DataFrame) -> Section:
    return frame_section("errors", "Errors and what to do", table,
                         "API attempts that failed (throttled, denied, server errors), failed "
                         "timers, and jobs that failed or timed out. Answers a call expected "
                         "(a probe's not-found) are not errors: the summary counts them as "
                         "expected not found." if len(table) else "",
                         nodata="no errors")


def settings_section(settings: Any) -> Section:
    import pandas as pd

    if settings is None:
        return frame_section("settings", "Settings", pd.DataFrame(), nodata="not given")
    rows = [{"setting": f.name, "value": str(getattr(settings, f.name))}
            for f in dataclasses.fields(settings)]
    return frame_section("settings", "Settings", pd.DataFrame(rows))


__all__ = ["Suggest", "cache_section", "errors_section", "errors_table", "pool_section",
           "resources_section", "settings_section"]
