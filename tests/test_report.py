"""The performance report: sections, formats, escaping, and self-containment — checked in a
real headless Chromium too.

Chromium must be installed (``make browser`` or ``apt-get install -y chromium``); that test
fails rather than skips without it. Chromium runs offline: every host resolves to nothing and
every proxied request goes to a closed loopback port, so even its own background requests
cannot leave the machine.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from browser import DevTools, colour_ints
from browser import pixels as browser_pixels

from geuse_nb.aws.errors import suggest_for_code
from geuse_nb.config import resolve_settings
from geuse_nb.errors import UsageError
from geuse_nb.observe.metrics import Recorder
from geuse_nb.observe.report import Report

SECTIONS = ["summary", "regions", "over_time", "jobs", "latency", "cache", "pool", "resources",
            "errors", "settings"]
# every src=, href= or CSS url( that is not a data: URI or a #fragment
EXTERNAL = re.compile(r"""(?:\b(?:src|href|action|poster)\s*=\s*["']?(?!data:|#)[^"'\s>]+"""
                      r"""|url\(\s*["']?(?!data:|#))""", re.IGNORECASE)


def filled_recorder(n_calls: int = 2000) -> Recorder:
    import random

    rng = random.Random(3)
    r = Recorder(resolve_settings(), kit_name="<kit & co>")
    for i in range(n_calls):
        r.record_api_call(service=rng.choice(["ec2", "sts"]),
                          operation=rng.choice(["describe_regions", "get_caller_identity"]),
                          region=rng.choice(["us-east-1", "eu-west-1", None]),
                          latency=rng.lognormvariate(-5, 0.8), http_status=200,
                          cache_hit=i % 4 == 0,
                          error_code="Throttling" if i % 500 == 1 else None)
    now = time.time()
    for i in range(40):
        failed = i % 13 == 0
        r.add("jobs", {"map": "pmap:<regions>", "key": f"job-{i}",
                       "status": "failed" if failed else "done", "attempts": 1,
                       "started": now + i * 0.05, "ended": now + i * 0.05 + 0.2,
                       "seconds": 0.2, "error": "<script>alert(1)</script>" if failed else None,
                       "suggestion": "check the <region> name" if failed else None})
    for i in range(5):
        r.add("resources", {"time": now + i, "cpu_percent": 10.0 * i, "rss_bytes": 1e8 + i,
                            "memory_percent": 40.0, "disk_read_bytes": 0.0,
                            "disk_write_bytes": 1e3 * i, "net_sent_bytes": 1e4 * i,
                            "net_recv_bytes": 2e4 * i})
    with r.timer("deploy"):
        pass
    return r


@pytest.fixture(scope="module")
def filled() -> Report:
    """One report of a filled recorder, shared by the read-only tests (charts cost time)."""
    return build(filled_recorder())


def build(r: Recorder, **kw: Any) -> Report:
    cache = pd.DataFrame([{"tier": "memory", "kind": "regions", "hits": 30, "misses": 10,
                           "hit_rate": 0.75}])
    pool = pd.DataFrame([{"service": "ec2", "region": "us-east-1", "clients_created": 1,
                          "requests": 90, "connections_opened": 2, "reuse_rate": 0.98}])
    args: dict[str, Any] = {"title": "Run <1>", "recorder": r, "cache_stats": cache,
                            "pool_stats": pool, "settings": resolve_settings(),
                            "suggest": suggest_for_code}
    args.update(kw)
    return Report.build(**args)


def test_empty_recorder_renders_no_data(tmp_path: Path) -> None:
    rep = Report.build(title="empty", recorder=Recorder(resolve_settings()),
                       cache_stats=pd.DataFrame(), pool_stats=None, settings=None)
    assert [s.key for s in rep.sections] == SECTIONS
    for key in SECTIONS:
        assert 'class="nodata"' in rep.section(key).html, key
        assert rep.section(key).markdown.startswith("_"), key
    assert "<img" not in rep.to_html()  # no charts without data
    for suffix in (".html", ".md", ".json"):
        assert rep.save(tmp_path / f"r{suffix}").stat().st_size > 0


def test_filled_report_content(filled: Report, tmp_path: Path) -> None:
    rep = filled
    data = rep.to_dict()["sections"]
    head = rep.to_dict()["headline"]
    assert head["api_calls"] == 1500 and head["cache_hits"] == 500
    assert head["errors"] == 4 and head["jobs"] == 40 and head["jobs_failed"] == 4
    assert head["cache_saved_serial_s"] > 0 and head["cache_saved_wall_s"] > 0
    names = {row["operation"] for row in data["latency"]["data"]["api_calls"]}
    assert "ec2.describe_regions" in names
    assert sum(row["count"] for row in data["latency"]["data"]["histogram"]) == 1500
    errors = data["errors"]["data"]
    assert any(e["error"] == "Throttling" and "lower n_jobs" in e["suggestion"]
               for e in errors)
    assert any(e["suggestion"] == "check the <region> name" for e in errors)
    assert data["pool"]["data"][0]["connection reuse (%)"] == 98
    html = rep.to_html()
    assert html.count("<img") == 4  # per region, over time, latency by operation, resources
    md = rep.save(tmp_path / "r.md").read_text()
    assert "## Cache" in md and "| memory | regions |" in md
    loaded = json.loads(rep.save(tmp_path / "r.json").read_text())
    assert set(loaded["sections"]) == set(SECTIONS)


def test_summary_equals_the_tables_sums(filled: Report) -> None:
    """Calls and cache hits are separate columns everywhere, and they add up."""
    data = filled.to_dict()
    head, sections = data["headline"], data["sections"]
    for table in (sections["regions"]["data"], sections["latency"]["data"]["api_calls"]):
        assert sum(r["requests"] for r in table) == head["api_calls"]
        assert sum(r["cache hits"] for r in table) == head["cache_hits"]
        assert sum(r["errors"] for r in table) == head["errors"]
        assert sum(r["time in requests (s)"] for r in table) == pytest.approx(
            head["aws_serial_s"])
    api_errors = [e for e in sections["errors"]["data"] if " @ " in e["where"]]
    assert sum(e["count"] for e in api_errors) == head["errors"]
    summary = filled.section("summary")
    assert f"{head['api_calls']:,}" in summary.html and f"{head['cache_hits']:,}" in summary.html
    assert sections["summary"]["data"]["findings"], "the top things to look at"


def test_one_missing_mark_units_and_honest_pool() -> None:
    cache = pd.DataFrame([
        {"tier": "memory", "kind": "regions", "hits": 3, "misses": 1, "hit_rate": 0.75,
         "entries": 1, "bytes": 100, "evictions": 0, "errors": 0, "mean_us": 2.0,
         "p95_us": 3.0},
        {"tier": "disk", "kind": "regions", "hits": 0, "misses": 1, "hit_rate": 0.0,
         "entries": 1, "bytes": 100, "evictions": pd.NA, "errors": 0, "mean_us": 13052.0,
         "p95_us": float("nan")}])
    pool = pd.DataFrame([
        {"service": "ec2", "region": "us-east-1", "clients_created": 1, "requests": 1,
         "connections_opened": 1, "reuse_rate": 0.0, "last_used": pd.NaT},
        {"service": "sts", "region": "us-east-1", "clients_created": 1, "requests": 10,
         "connections_opened": 1, "reuse_rate": 0.9, "last_used": pd.NaT}])
    rep = build(Recorder(resolve_settings()), cache_stats=cache, pool_stats=pool)
    for key in ("cache", "pool"):
        sec = rep.section(key)
        assert "<NA>" not in sec.html and "nan" not in sec.html.lower().replace("nanos", "")
        assert "NaT" not in sec.html and "<NA>" not in sec.markdown
    cache_rows = rep.section("cache").data
    assert cache_rows[1]["lookups timed"] == "misses only"
    assert "lookup mean (µs)" in cache_rows[1] and "hit rate (%)" in cache_rows[0]
    pool_rows = rep.section("pool").data
    assert pool_rows[0]["connection reuse (%)"] is None  # one request: nothing to reuse
    assert pool_rows[1]["connection reuse (%)"] == pytest.approx(90)
    assert "more than one request" in rep.section("pool").html


def test_add_section_in_every_format(tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    rep = build(filled_recorder(200))
    fig = Figure(figsize=(3, 2))
    fig.add_subplot().plot([0, 1], [1, 0])
    frame = pd.DataFrame({"region": ["eu-west-1"], "price ($/h)": [0.0312]})
    same = (rep.add_section("Spot pick", frame, note="cheapest <first>")
            .add_section("Price trend", fig)
            .add_section("Verdict", "Use eu-west-1.\n\nFailover: us-east-1 & <b>."))
    assert same is rep
    keys = [s.key for s in rep.sections]
    assert keys[-4:] == ["spot-pick", "price-trend", "verdict", "settings"]
    rep.add_section("Spot pick", "again")
    assert [s.key for s in rep.sections][-2] == "spot-pick-2"
    html = rep.to_html()
    assert "cheapest &lt;first&gt;" in html and "<td>0.031</td>" in html
    assert "<p>Failover: us-east-1 &amp; &lt;b&gt;.</p>" in html
    assert '<img alt="Price trend" src="data:image/png;base64,' in html
    md = rep.to_markdown()
    assert "## Spot pick" in md and "| eu-west-1 | 0.031 |" in md
    assert "![Price trend](data:image/png;base64," in md and "Use eu-west-1." in md
    saved = json.loads(rep.save(tmp_path / "r.json").read_text())["sections"]
    assert saved["spot-pick"]["data"]["rows"] == [{"region": "eu-west-1", "price ($/h)": 0.0312}]
    assert saved["spot-pick"]["kind"] == "runbook" and saved["spot-pick"]["note"]
    assert saved["price-trend"]["data"]["png_base64"]
    assert saved["verdict"]["data"]["text"].startswith("Use eu-west-1.")
    assert fig.axes, "the caller's figure is left as it was"
    loaded = Report.load(tmp_path / "r.json")
    assert "cheapest &lt;first&gt;" in loaded.to_html()
    assert '<img alt="Price trend"' in loaded.to_html()
    with pytest.raises(UsageError, match=r"cannot show a set.*DataFrame, a matplotlib Figure"):
        rep.add_section("Bad", {1, 2})
    with pytest.raises(UsageError, match="needs a title"):
        rep.add_section("  ", "text")


def test_load_round_trip_and_bad_files(filled: Report, tmp_path: Path) -> None:
    path = filled.save(tmp_path / "r.json")
    again = Report.load(path)
    assert [s.key for s in again.sections] == SECTIONS
    assert again.headline == pytest.approx(json.loads(path.read_text())["headline"])
    assert "ec2.describe_regions" in again.to_html()
    with pytest.raises(UsageError, match=r"only \.json"):
        Report.load(tmp_path / "r.html")
    with pytest.raises(UsageError, match="no report at"):
        Report.load(tmp_path / "missing.json")
    (tmp_path / "x.json").write_text("[1]")
    with pytest.raises(UsageError, match="not a geuse_nb report"):
        Report.load(tmp_path / "x.json")
    with pytest.raises(UsageError, match="compare"):
        filled.compare("x.json")  # type: ignore[arg-type]  # a path, not a Report


def test_timeline_is_html_with_whole_labels() -> None:
    r = Recorder(resolve_settings())
    now = time.time()
    for run in range(2):  # a cold and a cached round with the same name stay apart
        for i, region in enumerate(["us-east-1", "ap-southeast-2"]):
            r.add("jobs", {"map": "spot prices", "key": f"deploy {region}",
                           "status": "done", "attempts": 1, "started": now + run + i * 0.1,
                           "ended": now + run + 0.5, "seconds": 0.5 - i * 0.1,
                           "error": None, "suggestion": None})
    html = build(r).section("jobs").html
    assert "spot prices · 2 jobs" in html and "spot prices #2 · 2 jobs" in html
    label = '<span class="tl-label">{}</span>'
    assert html.count(label.format("⚑ deploy us-east-1")) == 2  # the slowest are marked
    assert html.count(label.format("deploy ap-southeast-2")) == 1
    assert html.count(label.format("⚑ deploy ap-southeast-2")) == 1
    assert "tl-legend" in html and "timed out" in html


def test_resources_say_why_when_there_is_nothing_to_show() -> None:
    r = Recorder(resolve_settings())
    r.add("resources", {"time": time.time(), "cpu_percent": 1.0, "rss_bytes": 1e8,
                        "memory_percent": 40.0, "disk_read_bytes": 0.0,
                        "disk_write_bytes": 0.0, "net_sent_bytes": 0.0, "net_recv_bytes": 0.0})
    sec = build(r).section("resources")
    assert "only one sample" in sec.html and "<img" not in sec.html


def test_text_is_escaped(filled: Report) -> None:
    html = filled.to_html()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "Run &lt;1&gt;" in html
    assert "pmap:&lt;regions&gt;" in html
    assert "<region>" not in html


def test_bad_suffix(tmp_path: Path) -> None:
    rep = build(Recorder(resolve_settings()))
    with pytest.raises(UsageError, match=r"'r\.pdf'.*\.html, \.md, \.json"):
        rep.save(tmp_path / "r.pdf")
    with pytest.raises(UsageError, match="none"):
        rep.save(tmp_path / "report")


def test_html_is_self_contained(filled: Report) -> None:
    html = filled.to_html()
    assert not EXTERNAL.findall(html), EXTERNAL.findall(html)[:3]
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert "@import" not in html and "http://" not in html and "https://" not in html
    assert re.findall(r'<img class="chart" alt="[^"]+" src="data:image/png;base64,', html)


def test_repr_html_and_unknown_section(filled: Report) -> None:
    rep = filled
    fragment = rep._repr_html_()
    assert fragment.startswith("<style>") and "<html" not in fragment
    with pytest.raises(UsageError, match="'nope'"):
        rep.section("nope")


def test_kit_report(kit: Any, tmp_path: Path) -> None:
    """A real Kit: sandbox calls recorded by the pool's hooks show up in the report."""
    kit.call("ec2", "describe_regions", region="us-east-1")
    kit.call("sts", "get_caller_identity", region="us-east-1")
    rep = kit.report()
    assert rep.to_dict()["sections"]["summary"]["data"]["api_calls"] >= 2
    assert rep.save(tmp_path / "kit.html").read_text().startswith("<!DOCTYPE html>")


# ---------------------------------------------------------------- headless Chromium
@pytest.mark.timeout(120)
def test_report_renders_offline_in_chromium(filled: Report, tmp_path: Path,
                                            chrome: DevTools) -> None:
    page = filled.save(tmp_path / "report.html")
    html = page.read_text()
    assert not EXTERNAL.findall(html)
    dom = chrome.open(page, screenshot=False).dom
    assert "Where the time went" in dom and "Jobs timeline" in dom
    imgs = re.findall(r"<img[^>]*>", dom)
    assert len(imgs) == 4 and all('src="data:image/png;base64,' in i for i in imgs)
    assert not EXTERNAL.findall(dom), "the rendered DOM references something outside the file"

    shot = tmp_path / "shot.png"
    shot.write_bytes(chrome.open(page, (1200, 1600)).png)
    pixels = browser_pixels(shot.read_bytes())
    assert pixels.shape[0] >= 1000 and pixels.shape[1] >= 1000
    flat = pixels[..., :3].reshape(-1, 3)
    assert flat.std() > 0.05, "screenshot is blank"
    colours = np.unique(colour_ints((flat * 255).astype(np.int32)))
    assert len(colours) > 50, "screenshot has too few colours to hold text and charts"
    blue = (flat[:, 2] > 0.6) & (flat[:, 0] < 0.3)  # the region bars (#1f77b4)
    assert blue.sum() > 1000, "the per-region chart did not render"


def test_sampler_rate_suits_the_run_and_a_short_run_has_a_chart() -> None:
    import threading

    from geuse_nb.observe.resources import ResourceSampler

    r = Recorder(resolve_settings())
    s = ResourceSampler(r, 5.0)
    assert [s.next_wait(t) for t in (0.0, 8.0, 40.0, 1000.0)] == [0.2, 0.2, 1.0, 5.0]
    s.start()
    try:
        seen = threading.Event()
        for _ in range(400):  # the sampler's own pace, polled (a 5 s fixed rate gave 1)
            if len(r.rows("resources")) >= 5:
                seen.set()
                break
            seen.wait(0.025)
    finally:
        s.close()
    assert seen.is_set(), "a short run got fewer than 5 samples"
    sec = build(r).section("resources")
    assert '<img class="chart"' in sec.html and "the sampler starts fast" in sec.html
