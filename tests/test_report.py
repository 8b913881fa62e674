"""The performance report: sections, formats, escaping, and self-containment — checked in a
real headless Chromium too.

Chromium must be installed (``make browser`` or ``apt-get install -y chromium``); that test
fails rather than skips without it. Chromium runs offline: every host resolves to nothing and
every proxied request goes to a closed loopback port, so even its own background requests
cannot leave the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from geuse_nb.config import resolve_settings
from geuse_nb.errors import UsageError
from geuse_nb.observe.metrics import Recorder
from geuse_nb.observe.report import Report

SECTIONS = ["summary", "latency", "cache", "pool", "jobs", "resources", "errors", "settings"]
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
                            "pool_stats": pool, "settings": resolve_settings()}
    args.update(kw)
    return Report.build(**args)


def test_empty_recorder_renders_no_data(tmp_path: Path) -> None:
    rep = Report.build(title="empty", recorder=Recorder(resolve_settings()),
                       cache_stats=pd.DataFrame(), pool_stats=None, settings=None)
    assert [s.key for s in rep.sections] == SECTIONS
    for key in ("cache", "pool", "jobs", "resources", "errors"):
        assert "no data" in rep.section(key).html, key
        assert "no data" in rep.section(key).markdown, key
    assert "<img" not in rep.to_html()  # no charts without data
    for suffix in (".html", ".md", ".json"):
        assert rep.save(tmp_path / f"r{suffix}").stat().st_size > 0


def test_filled_report_content(filled: Report, tmp_path: Path) -> None:
    rep = filled
    data = rep.to_dict()["sections"]
    summary = data["summary"]["data"]
    assert summary["api_calls"] == 1500 and summary["cache_hits"] == 500
    assert summary["api_calls_avoided"] == 500 and summary["seconds_saved_by_cache"] > 0
    assert summary["errors"] == 4 and summary["jobs"] == 40
    names = {row["name"] for row in data["latency"]["data"]["api_calls"]}
    assert "ec2.describe_regions" in names
    assert sum(row["count"] for row in data["latency"]["data"]["histogram"]) == 1500
    errors = data["errors"]["data"]
    assert any(e["error"] == "Throttling" and "lower n_jobs" in e["suggestion"]
               for e in errors)
    assert any(e["suggestion"] == "check the <region> name" for e in errors)
    assert data["pool"]["data"][0]["reuse_rate"] == 0.98
    html = rep.to_html()
    assert html.count("<img") == 3  # latency histogram, jobs Gantt, resources
    md = rep.save(tmp_path / "r.md").read_text()
    assert "## Cache hit rates" in md and "| memory | regions |" in md
    loaded = json.loads(rep.save(tmp_path / "r.json").read_text())
    assert set(loaded["sections"]) == set(SECTIONS)


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
    assert re.findall(r'<img alt="chart" src="data:image/png;base64,', html)


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
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--hide-scrollbars",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
         "--proxy-bypass-list=<-loopback>"]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("chromium is not installed: run `make browser` "
                    "(or `apt-get install -y chromium`) to run the HTML report test",
                    pytrace=False)
    return path


def run_chromium(args: list[str], profile: Path, timeout: float = 60) -> str:
    """Run chromium in its own process group; whatever it leaves behind is killed."""
    proc = subprocess.Popen([chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the group we started (zygotes, GPU helper)
        proc.wait()
    assert proc.returncode == 0, f"chromium exited with {proc.returncode}"
    return out


@pytest.mark.timeout(120)
def test_report_renders_offline_in_chromium(filled: Report, tmp_path: Path) -> None:
    page = filled.save(tmp_path / "report.html")
    html = page.read_text()
    assert not EXTERNAL.findall(html)
    url = page.as_uri()

    dom = run_chromium(["--dump-dom", url], tmp_path / "profile1")
    assert "Run summary" in dom and "Jobs timeline" in dom
    imgs = re.findall(r"<img[^>]*>", dom)
    assert len(imgs) == 3 and all('src="data:image/png;base64,' in i for i in imgs)
    assert not EXTERNAL.findall(dom), "the rendered DOM references something outside the file"

    shot = tmp_path / "shot.png"
    run_chromium([f"--screenshot={shot}", "--window-size=1200,1600", url],
                 tmp_path / "profile2")
    import matplotlib.image

    pixels = matplotlib.image.imread(str(shot))
    assert pixels.shape[0] >= 1000 and pixels.shape[1] >= 1000
    flat = pixels[..., :3].reshape(-1, 3)
    assert flat.std() > 0.05, "screenshot is blank"
    colours = np.unique((flat * 255).astype(np.uint8), axis=0)
    assert len(colours) > 50, "screenshot has too few colours to hold text and charts"
    blue = (flat[:, 2] > 0.6) & (flat[:, 0] < 0.3)  # the histogram's bars (#1976d2)
    assert blue.sum() > 1000, "the latency histogram did not render"
