"""`make demo`'s job (`geuse-nb demo`), end to end: every runbook notebook found in notebooks/
runs on the sandbox into one folder (the session's one run, from the installed wheel in an
empty directory: tests/runbook_runs.py), with offline HTML, performance reports and an index —
and each page, opened in headless chromium with the network cut, asks for nothing, shows
the final progress state and its plots, and is not blank."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import runbook_runs
from browser import DevTools

from geuse_nb.face.demo import discover

ROOT = Path(__file__).resolve().parents[1]
RUNBOOKS = discover(ROOT / "notebooks")


@pytest.fixture(scope="module")
def demo(demo_run: runbook_runs.DemoRun) -> tuple[Path, str]:
    """The session's `geuse-nb demo` (every runbook, from the installed wheel)."""
    assert demo_run.returncode == 0, demo_run.stdout[-4000:]
    assert "\x1b[" not in demo_run.stdout  # a pipe gets plain lines, no escape codes
    return demo_run.out, demo_run.stdout


def test_runbooks_are_found() -> None:
    names = [p.name for p in RUNBOOKS]
    assert names[0] == "quickstart.ipynb"
    assert names[1:] == sorted(n for n in names[1:] if re.match(r"\d\d_", n))


@pytest.mark.timeout(900)
def test_demo_runs_every_runbook_and_links_them(demo: tuple[Path, str]) -> None:
    out, stdout = demo
    index = (out / "index.html").read_text()
    for book in RUNBOOKS:
        page = out / f"{book.stem}.html"
        assert page.exists() and (out / book.name).exists(), book
        assert f'href="{page.name}"' in index, f"index.html does not link {page.name}"
        assert f"{book.name} ..." in stdout
    assert index.count('<tr class="ok">') == len(RUNBOOKS)
    rows = re.findall(r'<tr class="ok">(.*?)</tr>', index, re.DOTALL)
    for row in rows:  # one line of what each runbook found, from its `summary` cell
        found = re.findall(r"<td>", row)
        assert len(found) >= 4
    assert "spot prices from" in index  # the quickstart's summary line
    assert (out / "quickstart.report.html").exists()  # its performance report
    assert f"{len(RUNBOOKS)} of {len(RUNBOOKS)} runbooks ok" in stdout
    assert "Unable to parse" not in stdout  # papermill read every parameters cell


@pytest.mark.timeout(900)
@pytest.mark.parametrize("book", RUNBOOKS, ids=[p.stem for p in RUNBOOKS])
def test_each_page_opens_offline(demo: tuple[Path, str], book: Path, tmp_path: Path,
                                 chrome: DevTools) -> None:
    from test_export import assert_not_blank, open_offline

    out, _ = demo
    seen = open_offline(chrome, out / f"{book.stem}.html", tmp_path)
    assert seen["requests"] == [], seen["requests"]
    dom = seen["dom"]
    bars = re.findall(r'<div class="geuse-progress".*?</div>\s*</div>', dom, re.DOTALL)
    boards = re.findall(r'<div class="geuse-(?:board|steps)".*?</table>', dom, re.DOTALL)
    assert bars or boards, "no final progress record on the page"
    for bar in bars:  # a bar's static record ends with its final count, e.g. 3/3
        assert re.search(r"\b\d+/\d+\b", re.sub(r"<[^>]+>", " ", bar)), bar[:300]
    for board in boards:  # a board's final record has no row still queued or running
        states = re.findall(r"<td[^>]*>(queued|running|in_progress)</td>", board)
        assert not states, f"a board ended with rows {states}"
    plots = re.findall(r'<img[^>]+src="data:image/png;base64,', dom)
    assert plots, "no plot on the page"
    if book.stem == "01_spot_selection":  # the launch's attempts table, as the browser shows it
        text = re.sub(r"<[^>]+>", " ", dom)
        assert re.search(r"asked\s+launched\s+outcome\s+error_code\s+seconds\s+message",
                         text), "the attempts table is not on the page"
        assert re.search(r"\bno_capacity\s+InsufficientInstanceCapacity\b", text), \
            "the attempts table does not show the pick's capacity error"
    if book.stem == "04_account_inventory":  # its heat map: a plot after its heading
        heading = dom.find("Where the findings are")
        assert heading >= 0 and re.search(r'<img[^>]+src="data:image/png', dom[heading:])
    assert_not_blank(seen["pixels"], min_inked=0.02)


# ---------------------------------------------------------------- the nbval gate
@pytest.mark.timeout(240)
def test_the_nbval_gate_fails_a_broken_notebook(tmp_path: Path) -> None:
    """`make test` runs nbval over every notebook; a notebook whose cell fails must fail it
    (and the same notebook fixed must pass, so the gate is not simply always shut)."""
    import netguard

    broken = (ROOT / "tests" / "fixtures" / "broken.ipynb.json").read_text()
    (tmp_path / "broken.ipynb").write_text(broken)
    (tmp_path / "fixed.ipynb").write_text(broken.replace("total == 7", "total == 6"))
    env = {**os.environ, "IPYTHONDIR": str(netguard.ipython_dir(tmp_path / ".ipython"))}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "--nbval-lax", "-q", "broken.ipynb", "fixed.ipynb"],
                          capture_output=True, text=True, timeout=220, cwd=tmp_path, env=env,
                          check=False)
    out = done.stdout
    assert done.returncode == 1, out[-3000:]
    assert "1 failed" in out and "passed" in out, out[-3000:]
    assert "broken.ipynb::Cell 1" in out and "the gate must catch this: total is 6" in out
