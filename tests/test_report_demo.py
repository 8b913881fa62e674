"""The demo's kind of report, opened in a real headless Chromium (offline, 1,000 px wide).

A run like ``make demo``'s (a cold and a cached round of "spot prices" over four regions
with different RTTs, a "deploy" map with one failure, a runbook section) must give a page
with per-region and over-time charts, a timeline whose labels lie inside it, unclipped,
and a summary whose figures are the tables' sums. The label check runs in the page: a copy
of the report gets a small script that measures every label's box and writes the verdict
into the DOM, which ``--dump-dom`` returns.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from browser import DevTools
from browser import pixels as browser_pixels
from test_report import EXTERNAL

import geuse_nb as gn
from geuse_nb.observe.report import Report

RTT = {"us-east-1": 0.01, "eu-west-1": 0.04, "sa-east-1": 0.08, "ap-southeast-2": 0.12}
FAILS = "sa-east-1"

MEASURE = """<script>
(() => {
  const labels = [...document.querySelectorAll('.timeline .tl-label')];
  let clipped = [];
  for (const el of labels) {
    const box = el.closest('.timeline').getBoundingClientRect();
    const r = el.getBoundingClientRect();
    if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.width < 1
        || el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)
      clipped.push(el.textContent);
  }
  const wide = document.documentElement.scrollWidth > window.innerWidth + 1;
  const imgs = [...document.querySelectorAll('img')].filter(i => !i.naturalWidth).length;
  document.body.setAttribute('data-verdict', JSON.stringify(
    {labels: labels.length, clipped, wide, broken_images: imgs}));
})();
</script>"""


@pytest.fixture()
def demo_report(sandbox: Any) -> Iterator[Report]:
    sandbox.set_network(rtt=RTT, handshake_factor=0.0)
    try:
        with gn.Kit("demo", backend="sandbox", sandbox=sandbox, cache_disk_enabled=False,
                    progress_quiet=True) as kit:
            for _ in range(2):  # cold, then cached: two runs of the same name
                kit.fanout("ec2", "describe_availability_zones", regions=list(RTT),
                           desc="spot prices", n_jobs=4)

            def deploy(region: str) -> str:
                if region == FAILS:
                    raise RuntimeError(f"stack in {region} failed: capacity")
                kit.call("sts", "get_caller_identity", region=region, refresh=True)
                return region

            kit.pmap(deploy, [f"{r}" for r in RTT], desc="deploy", n_jobs=4)
            rep = kit.report("demo-like run")
            rep.add_section("Rollout result", pd.DataFrame(
                {"region": list(RTT), "result": ["ok", "ok", "failed", "ok"]}),
                note="what the runbook found")
            yield rep
    finally:
        sandbox.set_network(rtt=0.0, handshake_factor=2.0)


@pytest.mark.timeout(180)
def test_demo_report_in_chromium(demo_report: Report, tmp_path: Path,
                                 chrome: DevTools) -> None:
    rep = demo_report
    page = rep.save(tmp_path / "demo.html")
    html = page.read_text()
    assert not EXTERNAL.findall(html)
    assert "@media (prefers-color-scheme: dark)" in html and "@media print" in html

    # per-region and over-time sections with charts
    for key in ("regions", "over_time", "latency"):
        assert re.search(rf'<section id="{key}"[^>]*>.*?<img class="chart"', html, re.S), key

    # summary figures are the tables' sums
    data = rep.to_dict()
    head = data["headline"]
    regions = data["sections"]["regions"]["data"]
    assert head["api_calls"] == sum(r["requests"] for r in regions) > 0
    assert head["cache_hits"] == sum(r["cache hits"] for r in regions) == len(RTT)
    ops = data["sections"]["latency"]["data"]["api_calls"]
    assert head["api_calls"] == sum(r["requests"] for r in ops)
    jobs = data["sections"]["jobs"]["data"]["by_status"]
    assert head["jobs"] == sum(r["jobs"] for r in jobs) == 3 * len(RTT)
    assert {r["run"] for r in jobs} == {"spot prices", "spot prices #2", "deploy"}
    errors = data["sections"]["errors"]["data"]
    assert any("deploy" in e["where"] and "capacity" in e["error"] for e in errors)

    measured = tmp_path / "measured.html"
    measured.write_text(html.replace("</body>", MEASURE + "</body>"))
    dom = chrome.open(measured, (1000, 2000), screenshot=False).dom
    found = re.search(r"data-verdict=\"([^\"]*)\"", dom)
    assert found, "the measuring script did not run"
    import html as html_lib
    import json

    verdict = json.loads(html_lib.unescape(found.group(1)))
    assert verdict["labels"] == 3 * len(RTT) + 1 and verdict["clipped"] == []  # + the axis
    assert not verdict["wide"], "the page is wider than a 1,000 px window"
    assert verdict["broken_images"] == 0
    for region in RTT:
        assert f">{region}</span>" in dom or f">⚑ {region}</span>" in dom
    assert f'API requests<b>{head["api_calls"]:,}</b>' in dom
    assert "Rollout result" in dom and "what the runbook found" in dom

    shot = tmp_path / "demo.png"
    shot.write_bytes(chrome.open(page, (1000, 2400)).png)
    pixels = browser_pixels(shot.read_bytes())
    assert pixels.shape[1] == 1000 and pixels[..., :3].std() > 0.05
