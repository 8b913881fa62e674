"""The runbooks: where they are, what each answers, and a name a person types for one.

The repository's ``notebooks/`` is their one source. A wheel carries the same files as
data files (``pyproject.toml``: ``share/geuse_nb/runbooks`` ← ``notebooks/*.ipynb``, a
glob evaluated at build time, so a new ``NN_*.ipynb`` ships without an edit), installed
under the environment's prefix. ``runbooks_dir()`` looks in the checkout beside the
package first (a source or editable install), then where the installed distribution's
file list says the runbooks are (``importlib.metadata``; right for ``--user`` and venv
installs alike), then ``<sys.prefix>/share/geuse_nb/runbooks``. Package data under
``geuse_nb/`` would need a second copy or a mapped package in the source tree; data
files need neither, and ``sandbox/market.py`` finds its price table the same way.

A runbook is named by its number (``01``, ``1``; the quickstart is ``00``), its file
stem (``01_spot_selection``), the stem without its number (``spot_selection``) or any
unique part of the stem (``spot``). Reading the catalogue (number, title, the question
it answers, its parameters via ``papermill.inspect_notebook``) costs ~25 ms a runbook
and starts no kernel.
"""

from __future__ import annotations

import logging
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError, did_you_mean

log = logging.getLogger(__name__)

QUICKSTART = "quickstart.ipynb"
PATTERN = "[0-9][0-9]_*.ipynb"
_NUMBERED = re.compile(r"^(\d\d)_")
_HEADING_NUMBER = re.compile(r"^#\s*(\d\d)\b")


def _has_runbooks(folder: Path) -> bool:
    return folder.is_dir() and ((folder / QUICKSTART).is_file() or any(folder.glob(PATTERN)))


def _installed_dir() -> Path | None:
    """Where the installed distribution's RECORD puts the runbooks, if it lists them."""
    from importlib import metadata

    try:
        files = metadata.distribution("geuse_nb").files or []
    except metadata.PackageNotFoundError:
        return None
    for entry in files:
        if entry.name == QUICKSTART and "runbooks" in entry.parts:
            return Path(str(entry.locate())).resolve().parent
    return None


def runbooks_dir() -> Path:
    """The folder holding the runbooks (see the module docstring for the order)."""
    checkout = Path(__file__).resolve().parents[2] / "notebooks"
    if _has_runbooks(checkout):
        return checkout
    installed = _installed_dir()
    if installed is not None and _has_runbooks(installed):
        return installed
    return Path(sys.prefix) / "share" / "geuse_nb" / "runbooks"


def discover(folder: Path | None = None) -> list[Path]:
    """The runbooks: the quickstart first, then ``NN_*.ipynb`` in order."""
    folder = Path(folder) if folder is not None else runbooks_dir()
    quick = folder / QUICKSTART
    return ([quick] if quick.is_file() else []) + sorted(folder.glob(PATTERN))


@dataclass(frozen=True)
class Runbook:
    """One runbook as the catalogue shows it."""

    path: Path
    number: str                    # "00" for the quickstart, "01" for 01_spot_selection
    title: str                     # its first heading, without the number
    answers: str                   # the question(s) its introduction opens with
    parameters: dict[str, Any] = field(default_factory=dict)  # name → papermill's record

    @property
    def name(self) -> str:
        return self.path.stem


def _intro(nb: Any) -> tuple[str, str, str]:
    """(number, title, answers) from the first markdown cell."""
    cell = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    if cell is None:
        return "", "", ""
    lines = cell.source.splitlines()
    heading = next((ln for ln in lines if ln.startswith("#")), "")
    found = _HEADING_NUMBER.match(heading)
    title = re.sub(r"^#+\s*(\d\d\s*·\s*)?", "", heading).strip()
    body = " ".join(ln.strip() for ln in lines if ln.strip() and not ln.startswith("#"))
    question = re.match(r"(.*?\?)(\s|$)", body)
    sentence = re.match(r"(.*?[.?!])(\s|$)", body)
    first = question or sentence
    answers = first.group(1) if first is not None else body
    return (found.group(1) if found else ""), title, answers[:300]


def read(path: Path) -> Runbook:
    """The catalogue entry of one runbook file (no kernel started)."""
    import nbformat
    import papermill

    nb = nbformat.read(path, as_version=4)
    heading_number, title, answers = _intro(nb)
    numbered = _NUMBERED.match(path.name)
    number = numbered.group(1) if numbered else heading_number or "--"
    params = dict(papermill.inspect_notebook(str(path)))
    return Runbook(path=path, number=number, title=title or path.stem, answers=answers,
                   parameters=params)


def catalogue(folder: Path | None = None) -> list[Runbook]:
    """Every runbook, in order, read."""
    return [read(p) for p in discover(folder)]


def _number(path: Path) -> str:
    """"01" for 01_spot_selection.ipynb, "00" for the quickstart, else ""."""
    numbered = _NUMBERED.match(path.name)
    return numbered.group(1) if numbered else "00" if path.name == QUICKSTART else ""


def resolve(name: str | Path, folder: Path | None = None) -> Path:
    """The runbook ``name`` stands for: a path to an .ipynb, a number, a stem or a unique
    part of one; ``UsageError`` naming the runbooks when it fits none or several."""
    text = str(name)
    if text.endswith(".ipynb") or "/" in text or Path(text).is_file():
        return Path(text)  # a path: the runner checks it (and suggests near names)
    books = discover(folder)
    key = text.strip().lower()
    exact = [p for p in books
             if key in (p.stem.lower(), _NUMBERED.sub("", p.stem).lower())
             or (key.isdigit() and _number(p) and int(key) == int(_number(p)))]
    found = exact or [p for p in books if key and key in p.stem.lower()]
    if len(found) == 1:
        return found[0]
    stems = [p.stem for p in books]
    if found:
        raise UsageError(f"runbook {text!r} fits {len(found)} runbooks: "
                         + ", ".join(p.stem for p in found),
                         suggestion="give more of the name, or its number")
    words = {w for p in books for w in [p.stem, *p.stem.split("_")] if not w.isdigit()}
    raise UsageError(f"no runbook {text!r}{did_you_mean(text, sorted(words))}",
                     suggestion="the runbooks (`geuse-nb runbooks`): " + ", ".join(stems)
                     if stems else f"no runbooks were found in {runbooks_dir()}")


def copy_out(name: str, to: Path, *, force: bool = False) -> Path:
    """Copy runbook ``name`` into folder ``to`` to edit; never over a file unless ``force``."""
    source = resolve(name)
    if not source.is_file():
        raise UsageError(f"runbook {str(source)!r} does not exist",
                         suggestion="name one of `geuse-nb runbooks`")
    to = Path(to)
    if to.exists() and not to.is_dir():
        raise UsageError(f"--to {str(to)!r} is a file, not a folder",
                         suggestion="pass a folder (it is created when missing)")
    target = to / source.name
    if target.exists() and not force:
        raise UsageError(f"{target} already exists; it was left as it is",
                         suggestion="pass --force to overwrite it, or --to another folder")
    to.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    log.debug("copied %s to %s", source, target)
    return target


def describe(book: Runbook) -> str:
    """The catalogue's lines for one runbook."""
    params = ", ".join(f"{n}={_default(r)}" for n, r in book.parameters.items())
    lines = [f"{book.number}  {book.name:<28} {book.title}", f"    {book.answers}"]
    if params:
        lines.append(f"    parameters: {params}")
    return "\n".join(lines)


def _default(record: Any) -> str:
    value = str(record.get("default", "") if isinstance(record, dict) else record)
    return value if len(value) <= 40 else value[:37] + "..."
