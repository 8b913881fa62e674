"""Offline HTML export of executed notebooks (geuse_nb.face.export), checked in a real headless
Chromium whose every network request is counted.

Chromium runs with every host resolving to nothing and every request sent to a closed
loopback proxy, so nothing can leave; the page's own requests are counted through the
DevTools protocol (``DevTools``: ``Network.requestWillBeSent`` on the page's target). A page
that asked for require.js, MathJax or the widget manager would be counted, so "no network
request" is measured, not assumed; a control page with an outside image and script proves
the count sees requests.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest
from browser import DevTools, colour_ints, pixels
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from geuse_nb.errors import UsageError
from geuse_nb.face.export import WIDGET_VIEW, export, external_references, staticize, to_html


def open_offline(chrome: DevTools, page: Path, workdir: Path, *,
                 screenshot: bool = True) -> dict[str, Any]:
    """Open ``page`` offline in the session's headless chromium: every URL the page
    requested (http(s), ws, ftp: anything that is not the file itself, data: or blob:),
    the rendered DOM, and the screenshot's pixels (also saved in ``workdir``)."""
    seen = chrome.open(page, screenshot=screenshot)
    out: dict[str, Any] = {"all_requests": seen.all_requests, "requests": seen.requests,
                           "dom": seen.dom}
    if screenshot:
        (workdir / f"{page.stem}.png").write_bytes(seen.png)
        out["pixels"] = pixels(seen.png)
    return out


def assert_not_blank(pixels: Any, min_inked: float = 0.002) -> None:
    """Ink on the page: some pixels (≥ 0.2 % by default; a blank page has none) differ
    from the page's background colour, in > 20 colours (anti-aliased text has dozens)."""
    flat = (pixels[..., :3].reshape(-1, 3) * 255).astype(np.int32)
    colours, counts = np.unique(colour_ints(flat), return_counts=True)
    top = colours[counts.argmax()]
    background = np.array([top >> 16, (top >> 8) & 0xFF, top & 0xFF])
    inked = (np.abs(flat - background).sum(axis=1) > 30).mean()
    assert inked > min_inked, f"screenshot is blank ({inked:.2%} of pixels inked)"
    assert len(colours) > 20, "screenshot has too few colours to hold text"


# ---------------------------------------------------------------- a notebook like a kernel's
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAFklEQVR4nGP8z8DwnwEJMDGgAeICAJ"
       "B9Av7YjDBjAAAAAElFTkSuQmCC")


def widget_notebook() -> Any:
    """What a kernel leaves: a widget bar whose fallback is static HTML, a plot, math."""
    nb = new_notebook(cells=[
        new_markdown_cell("# Export test\n\nInline math $e^{i\\pi}+1=0$."),
        new_code_cell("bar()", outputs=[new_output(
            "display_data", data={
                WIDGET_VIEW: {"model_id": "abc", "version_major": 2, "version_minor": 0},
                "text/html": '<div class="geuse-progress">spot prices 3/3 done</div>',
                "text/plain": "spot prices 3/3"})]),
        new_code_cell("bare_widget()", outputs=[new_output(
            "display_data", data={WIDGET_VIEW: {"model_id": "def", "version_major": 2,
                                                "version_minor": 0}})]),
        new_code_cell("plot()", outputs=[new_output(
            "display_data", data={"image/png": PNG, "text/plain": "<Figure>"})]),
    ])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "state": {}, "version_major": 2, "version_minor": 0}}
    return nb


def test_staticize_keeps_fallbacks_and_drops_widget_state() -> None:
    nb = widget_notebook()
    out = staticize(nb)
    assert "widgets" not in out.metadata and "widgets" in nb.metadata  # a copy
    bar = out.cells[1].outputs
    assert len(bar) == 1 and WIDGET_VIEW not in bar[0]["data"]
    assert "3/3 done" in bar[0]["data"]["text/html"]
    assert out.cells[2].outputs == []  # no fallback: nothing left to show offline
    assert out.cells[3].outputs[0]["data"]["image/png"] == PNG


@pytest.mark.filterwarnings("ignore:Your element with mimetype:UserWarning")  # plain nbconvert
def test_export_has_no_outside_references_where_plain_nbconvert_has() -> None:
    from nbconvert import HTMLExporter

    plain, _ = HTMLExporter(template_name="lab").from_notebook_node(widget_notebook())
    leaks = external_references(plain)
    assert any("require" in u for u in leaks) and any("mathjax" in u.lower() for u in leaks)
    html = to_html(widget_notebook())
    assert external_references(html) == []
    assert not re.search(r"<script[^>]*\bsrc=", html)
    assert "spot prices 3/3 done" in html and f"data:image/png;base64,{PNG}" in html


def test_no_input_hides_code(tmp_path: Path) -> None:
    src = tmp_path / "n.ipynb"
    nbformat.write(widget_notebook(), src)
    with_code = export(src).read_text()
    without = export(src, tmp_path / "short.html", no_input=True).read_text()
    code = ">bare_widget<"  # the highlighted source of a code cell
    assert code in with_code and code not in without
    assert "3/3 done" in without


def test_export_refuses_what_is_not_a_notebook(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"'.*missing\.ipynb' is not a notebook"):
        export(tmp_path / "missing.ipynb")


@pytest.mark.timeout(240)
def test_counter_sees_requests_and_export_makes_none(chrome: DevTools, tmp_path: Path) -> None:
    """The control page's outside image is counted; the exported page asks for nothing."""
    control = tmp_path / "control.html"
    control.write_text('<html><body><img src="https://cdn.example.com/x.png">'
                       '<script src="https://cdn.jsdelivr.net/npm/require.js"></script>'
                       "</body></html>")
    seen = open_offline(chrome, control, tmp_path, screenshot=False)
    assert "https://cdn.example.com/x.png" in seen["requests"], "the count is blind"

    src = tmp_path / "nb.ipynb"
    nbformat.write(widget_notebook(), src)
    page = export(src)
    seen = open_offline(chrome, page, tmp_path)
    assert seen["requests"] == [], seen["requests"]
    assert "spot prices 3/3 done" in seen["dom"]
    assert re.search(r'<img[^>]+src="data:image/png;base64,', seen["dom"])
    assert_not_blank(seen["pixels"])


# ---------------------------------------------------------------- the CLI's report command
def test_cli_report_writes_offline_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    from geuse_nb.face.cli import main

    src = tmp_path / "n.ipynb"
    nbformat.write(widget_notebook(), src)
    assert main(["report", str(src), "--out", str(tmp_path / "out")]) == 0
    page = tmp_path / "out" / "n.html"
    assert f"html: {page}" in capsys.readouterr().out
    assert external_references(page.read_text()) == []
    assert main(["report", str(tmp_path / "nope.ipynb")]) == 1
    assert "is not a notebook" in capsys.readouterr().err
