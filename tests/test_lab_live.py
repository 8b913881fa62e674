"""Live in JupyterLab: runbook 00 opened, run and watched in a real browser.

``geuse-nb lab`` starts JupyterLab on loopback (a token, no browser of its own, no update
or news check) on a copy of the runbooks; Debian's chromium, driven by Playwright (its
own browser download is never used: ``executable_path``, tests/browser.py), opens
``quickstart.ipynb``, runs all cells from the Run menu and watches the fan-out cell's
output with a ``MutationObserver`` installed before the run: the live progress widget
(tqdm's ipywidgets bar, drawn by JupyterLab's widget manager) must appear with at least
two states, and the output must end as the static record of its final state
("spot prices ... 3/3"). Nothing may be written to the browser console as an error, no
cell may fail. The screenshot of the finished notebook goes to
reports/jupyterlab-live.png (not tracked); ``GEUSE_SCREENSHOT_TO_DOCS=1`` writes it to
docs/jupyterlab-live.png, the README's picture, instead (every run rewrote it before,
leaving the work tree changed after ``make test``).
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import netguard
import pytest
from browser import chromium

ROOT = Path(__file__).resolve().parents[1]
SHOT = ROOT / ("docs" if os.environ.get("GEUSE_SCREENSHOT_TO_DOCS") == "1" else "reports"
              ) / "jupyterlab-live.png"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-default-apps",
                 "--disable-extensions", "--no-first-run",
                 # everything but the lab server goes to a closed port
                 "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=127.0.0.1"]

# Records every state the fan-out cell's output takes: whether a live widget is there,
# its text; the cell is the one whose source calls kit.fanout(... desc="spot prices").
WATCH = """() => {
  window.__geuse = [];
  const record = () => {
    for (const cell of document.querySelectorAll('.jp-CodeCell')) {
      const src = cell.querySelector('.jp-InputArea-editor')?.textContent || '';
      if (!src.includes('desc="spot prices",')) continue;
      const out = cell.querySelector('.jp-OutputArea');
      if (!out) continue;
      const live = out.querySelector('.widget-progress, .jupyter-widget-progress,'
                                     + ' progress, [class*="progress-bar"]') !== null;
      const text = out.textContent.replace(/\\s+/g, ' ').trim();
      const last = window.__geuse[window.__geuse.length - 1];
      if (!last || last.text !== text || last.live !== live)
        window.__geuse.push({live, text,
                             final: out.querySelector('.geuse-progress') !== null});
    }
  };
  new MutationObserver(record).observe(document.body,
      {subtree: true, childList: true, characterData: true, attributes: true});
}"""

# The kernel is up and idle, or JupyterLab asks which kernel to start.
READY = """() => document.querySelector('.jp-Dialog') !== null
  || document.querySelector('.jp-KernelStatus-success, .jp-Toolbar-kernelStatus'
                            + '[data-status="idle"]') !== null
  || (document.querySelector('.jp-Notebook-ExecutionIndicator[data-status="idle"]') !== null
      && !!document.querySelector('.jp-Toolbar-kernelName')
      && /Idle/.test(document.body.innerText))"""

DONE = """() => {
  const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
  const numbered = prompts.filter(p => /\\[\\d+\\]/.test(p.textContent));
  return prompts.length > 0 && numbered.length === prompts.length
    && document.querySelector('.jp-Notebook-ExecutionIndicator[data-status="idle"], '
                              + '#jp-main-statusbar') !== null;
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`geuse-nb lab` on loopback over a copy of the runbooks; stopped afterwards."""
    root = tmp_path_factory.mktemp("lab")
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "IPYTHONDIR": str(netguard.ipython_dir(root / ".ipython")),
           "GEUSE_CACHE_DIR": str(root / ".cache"), "GEUSE_BACKEND": "sandbox",
           "GEUSE_PROGRESS_QUIET_MODE": "0",  # the tests' default is quiet; the lab draws
           "JUPYTER_CONFIG_DIR": str(root / ".jupyter"),
           "JUPYTER_RUNTIME_DIR": str(root / ".runtime")}
    command = [str(Path(sys.executable).with_name("geuse-nb")), "lab", "--dir",
               str(root / "runbooks"), "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--IdentityProvider.token={token}", "--allow-root",
               "--ServerApp.port_retries=0",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.news_url=None"]
    # every cell in the DOM (no virtual scrolling), and no question about Jupyter's news
    settings = root / ".jupyter" / "lab" / "user-settings" / "@jupyterlab"
    for name, text in (("notebook-extension/tracker", '{"windowingMode": "none"}'),
                       ("apputils-extension/notification", '{"fetchNews": "false"}')):
        path = settings / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    log = (root / "lab.log").open("w")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    ready = threading.Event()
    for _ in range(300):  # polled readiness (JupyterLab starts in 2-10 s), at most 60 s
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                ready.set()
                break
        except OSError:
            ready.wait(0.2)
    try:
        assert ready.is_set(), (root / "lab.log").read_text()[-3000:]
        yield {"url": url, "token": token, "root": root / "runbooks", "log": root / "lab.log"}
    finally:
        proc.terminate()  # what a supervisor sends: JupyterLab must stop its kernels
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        log.close()
        left = _processes_under(root)
        for leftover in left:
            leftover.kill()
        assert not left, f"still running after the lab stopped: {left}"


def _processes_under(root: Path) -> list[Any]:
    """Processes whose command line names ``root`` (the lab server, its kernels)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue  # ended, its exit status not yet collected
            if any(str(root) in part for part in proc.info["cmdline"] or ()):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


@pytest.mark.allow_leaks  # Playwright's driver is gone when the test ends; kernels too
@pytest.mark.timeout(180)
def test_quickstart_runs_live_in_jupyterlab(lab_server: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    assert (lab_server["root"] / "quickstart.ipynb").is_file()  # `geuse-nb lab` copied it
    errors: list[str] = []
    with sync_playwright() as p:
        chrome = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            page = chrome.new_page(viewport={"width": 1280, "height": 1600})
            page.on("console", lambda m: errors.append(f"console: {m.text}")
                    if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"page: {e}"))
            page.goto(f"{lab_server['url']}/lab/tree/quickstart.ipynb"
                      f"?token={lab_server['token']}")
            page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=60_000)
            # the runbooks name no kernel of their own: JupyterLab asks once, we take its
            # default (this environment's python3)
            for _ in range(3):
                page.wait_for_function(READY, timeout=90_000, polling=250)
                if not page.locator(".jp-Dialog").count():
                    break
                page.locator(".jp-Dialog .jp-mod-accept").click()
            page.evaluate(WATCH)
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            try:
                page.wait_for_function(DONE, timeout=120_000, polling=250)
            except Exception:
                page.screenshot(path=str(lab_server["root"].parent / "stuck.png"))
                prompts = page.locator(".jp-InputPrompt").all_inner_texts()
                raise AssertionError(f"the run did not finish: prompts {prompts}; "
                                     f"{lab_server['root'].parent / 'stuck.png'}") from None
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                                   timeout=60_000)
            states = page.evaluate("window.__geuse")
            failed = page.locator(".jp-OutputArea-output[data-mime-type="
                                  "'application/vnd.jupyter.stderr']").all_inner_texts()
            summary = page.locator(".jp-OutputArea-output").all_inner_texts()
            SHOT.parent.mkdir(exist_ok=True)
            cell = page.locator(".jp-CodeCell", has_text='desc="spot prices",')
            cell.evaluate("el => el.scrollIntoView({block: 'start'})")
            page.screenshot(path=str(SHOT))
        finally:
            chrome.close()
    assert not [t for t in failed if "Error" in t], failed
    assert any("spot prices from 3 regions" in t for t in summary), summary[-5:]
    live = [s for s in states if s["live"]]
    assert live, f"no live progress widget was seen: {states}"
    counts = [m.group(0) for s in live if (m := re.search(r"\b\d/3\b", s["text"]))]
    assert len(set(counts)) >= 2 and counts[-1] == "3/3", live  # it moved, and finished
    assert states[-1]["final"] and "3/3" in states[-1]["text"], states[-1]
    assert errors == [], errors
