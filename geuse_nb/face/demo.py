"""``geuse-nb demo`` (``make demo``): every runbook notebook, run on the sandbox, into reports/.

The runbooks are ``quickstart.ipynb`` and every ``NN_*.ipynb`` of the checkout's
``notebooks/`` or, from a wheel, of the copies it installed (``face/_runbooks.py``), found
at run time, so a new runbook joins the demo by being there; it runs from any directory.
Each runs in its own kernel (papermill) with ``GEUSE_BACKEND=sandbox`` — its own
sandbox, nothing shared between them — and progress drawn
(``GEUSE_PROGRESS_QUIET_MODE=0``), with two parameters set when its ``parameters`` cell
declares them:
``backend = "sandbox"`` and ``report_path = "<out>/<name>.report.html"`` (where the
notebook saves its performance report). The folder then holds, per runbook, the executed
``.ipynb``, its offline ``.html`` and its report, and ``index.html`` links them with one
line each of what the runbook found (the output of its cell tagged ``summary``).

A failing runbook does not stop the others; the index marks it and the command exits 1.
"""

from __future__ import annotations

import html
import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ._runbooks import discover, runbooks_dir
from .runner import RunResult, notebook_parameters, run_notebook

log = logging.getLogger(__name__)


@contextmanager
def _sandbox_environment() -> Iterator[None]:
    """Kernels inherit the environment: make every kit they build a sandbox kit."""
    saved = {k: os.environ.get(k) for k in ("GEUSE_BACKEND", "GEUSE_SANDBOX_URL",
                                            "GEUSE_PROGRESS_QUIET_MODE")}
    os.environ["GEUSE_BACKEND"] = "sandbox"
    os.environ["GEUSE_PROGRESS_QUIET_MODE"] = "0"  # the pages show where progress ended
    os.environ.pop("GEUSE_SANDBOX_URL", None)  # each runbook gets a fresh sandbox
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run(out: Path, notebooks: Sequence[Path] | None = None) -> bool:
    """Run every runbook into ``out`` and write ``out/index.html``; True if all passed."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    books = list(notebooks) if notebooks is not None else discover()
    if not books:
        print(f"no runbooks found in {runbooks_dir()}")
        return False
    results: list[RunResult] = []
    began = time.perf_counter()
    with _sandbox_environment():
        for i, book in enumerate(books, 1):
            declared = notebook_parameters(book)
            params: dict[str, object] = {}
            if "backend" in declared:
                params["backend"] = "sandbox"
            if "report_path" in declared:
                params["report_path"] = str((out / f"{book.stem}.report.html").resolve())
            print(f"[{i}/{len(books)}] {book.name} ...", flush=True)
            result = run_notebook(book, out, params, html=True)
            results.append(result)
            state = "ok" if result.ok else "FAILED"
            print(f"      {state} in {result.seconds:.1f} s"
                  + (f": {result.summary}" if result.ok and result.summary else "")
                  + (f"\n      {result.failure}" if result.failure else ""), flush=True)
    index = write_index(out, results, time.perf_counter() - began)
    print(f"index: {index} ({sum(r.ok for r in results)} of {len(results)} runbooks ok, "
          f"{time.perf_counter() - began:.0f} s)")
    return all(r.ok for r in results)


def _reports_of(out: Path, result: RunResult) -> list[Path]:
    stem = result.source.stem
    return sorted(p for p in out.glob(f"{stem}.report.*") if p.is_file())


def write_index(out: Path, results: Sequence[RunResult], seconds: float) -> Path:
    """``out/index.html``: one row per runbook (links, status, time, what it found)."""
    rows = []
    for r in results:
        links = [f'<a href="{html.escape(r.html.name)}">page</a>'] if r.html else []
        links.append(f'<a href="{html.escape(r.notebook.name)}">notebook</a>')
        links += [f'<a href="{html.escape(p.name)}">report{html.escape(p.suffix)}</a>'
                  for p in _reports_of(out, r)]
        found = r.summary if r.ok else (r.failure or "")
        rows.append(
            f'<tr class="{"ok" if r.ok else "bad"}"><td><b>{html.escape(r.title)}</b><br>'
            f'<small>{html.escape(r.source.name)}</small></td>'
            f'<td>{"ok" if r.ok else "failed"}</td><td>{r.seconds:.1f} s</td>'
            f'<td>{html.escape(found)}</td><td>{" · ".join(links)}</td></tr>')
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>geuse_nb runbooks</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}
table{{border-collapse:collapse;width:100%}}
td,th{{border-bottom:1px solid #ddd;padding:.5em;text-align:left;vertical-align:top}}
tr.ok td:nth-child(2){{color:#2e7d32}} tr.bad td:nth-child(2){{color:#c62828;font-weight:bold}}
</style></head><body>
<h1>geuse_nb runbooks</h1>
<p>{len(results)} runbooks run on the embedded sandbox in {seconds:.0f} s,
{time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}. Every page opens offline.</p>
<table><tr><th>runbook</th><th>status</th><th>time</th><th>what it found</th><th>files</th>
</tr>
{chr(10).join(rows)}
</table></body></html>
"""
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
