"""Executed notebook → one HTML file that opens anywhere, offline.

nbconvert 7's ``lab`` template is almost self-contained (its CSS is inlined) but its page
loads three things from public CDNs: require.js, MathJax, and — when the notebook carries
widget state — the Jupyter widget manager. Offline, the first two fail quietly and the
third leaves every progress bar blank. So the export:

- renders through a template that extends ``lab/index.html.j2`` and empties the blocks that
  emit those ``<script src=…>`` tags (a Jinja ``DictLoader``, no template files to ship);
- replaces each widget output by its static fallback (the ``text/html`` or ``text/plain``
  the kernel sent beside it) and drops the widget state from the notebook metadata; the
  progress front ends already leave a static HTML record of their final state in a kernel,
  so the page shows where every bar and board ended;
- keeps plots as the ``data:image/png`` URIs nbconvert already inlines, and inlines images
  that markdown cells reference by relative path (``embed_images``).

The output holds no ``src=``/``href=`` that leaves the file (``external_references``
checks; the chromium test counts requests). Math stays as TeX source: MathJax is ~1 MB and
no runbook needs it.
"""

from __future__ import annotations

import copy
import logging
import re
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

_TEMPLATE_NAME = "geuse_offline.html.j2"
_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block footer_js -%}{%- endblock footer_js -%}
{%- block data_widget_view -%}{%- endblock data_widget_view -%}
"""

# src=/href=/CSS url( that is not a data: URI, a #fragment or javascript:void
EXTERNAL = re.compile(r"""(?:(?<![-\w])(?:src|href|action|poster)\s*=\s*["']?(?!data:|#)"""
                      r"""([^"'\s>]+)|url\(\s*["']?(?!data:|#)([^"')\s]+))""", re.IGNORECASE)


def staticize(nb: Any) -> Any:
    """A copy of ``nb`` whose widget outputs are their static fallbacks; no widget state."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            data = output.get("data")
            if data is not None and WIDGET_VIEW in data:
                data.pop(WIDGET_VIEW)
                data.pop(WIDGET_STATE, None)
                if not any(k in data for k in ("text/html", "text/plain", "image/png")):
                    continue  # a widget with no fallback leaves no trace offline
            kept.append(output)
        cell["outputs"] = kept
    return nb


def exporter(*, no_input: bool = False) -> Any:
    """An ``HTMLExporter`` whose page loads nothing from the network."""
    import jinja2
    from nbconvert import HTMLExporter

    exp = HTMLExporter(template_name="lab", embed_images=True, exclude_input=no_input,
                       exclude_input_prompt=no_input)
    exp.extra_loaders = [jinja2.DictLoader({_TEMPLATE_NAME: _TEMPLATE})]
    exp.template_file = _TEMPLATE_NAME
    exp.require_js_url = ""
    exp.mathjax_url = ""
    exp.widget_renderer_url = ""
    return exp


def to_html(nb: Any, *, no_input: bool = False, resources_dir: Path | None = None) -> str:
    """The notebook (a ``nbformat.NotebookNode``) as offline HTML text."""
    resources: dict[str, Any] = {}
    if resources_dir is not None:  # relative markdown images resolve from the notebook's dir
        resources["metadata"] = {"path": str(resources_dir)}
    body, _ = exporter(no_input=no_input).from_notebook_node(staticize(nb), resources)
    leaks = external_references(body)
    if leaks:
        log.warning("exported HTML still references %d outside resources, e.g. %s",
                    len(leaks), leaks[:3])
    return str(body)


def export(notebook: str | Path, out: str | Path | None = None, *,
           no_input: bool = False, redact: bool = False) -> Path:
    """Write ``notebook`` (.ipynb) as offline HTML next to it, or to ``out``; returns the path.
    ``redact=True`` masks account ids, ARNs and access key ids (``observe.redact``)."""
    import nbformat

    from ..errors import UsageError

    src = Path(notebook)
    if src.suffix != ".ipynb" or not src.is_file():
        raise UsageError(f"{str(src)!r} is not a notebook file",
                         suggestion="pass an .ipynb file, e.g. reports/quickstart.ipynb")
    nb = nbformat.read(src, as_version=4)
    target = Path(out) if out is not None else src.with_suffix(".html")
    if target.suffix != ".html":  # a folder, existing or not
        target = target / src.with_suffix(".html").name
    target.parent.mkdir(parents=True, exist_ok=True)
    html = to_html(nb, no_input=no_input, resources_dir=src.parent)
    if redact:
        from ..observe.redact import redact as mask

        html = mask(html)
    target.write_text(html, encoding="utf-8")
    return target


def external_references(html: str) -> list[str]:
    """Every ``src``/``href``/``url(`` in ``html`` that points outside the file."""
    hits = [a or b for a, b in EXTERNAL.findall(html)]
    return [h for h in hits if not h.startswith(("javascript:", "about:blank"))]
