"""Run a notebook with parameters (papermill) and export it: what ``geuse-nb run`` and
``geuse-nb demo`` share.

papermill injects the parameters as a cell after the one tagged ``parameters`` and writes
the executed notebook even when a cell fails, so the failure can be read from it and the
HTML still shows where it stopped. Parameter names are checked against the notebook's
``parameters`` cell (``papermill.inspect_notebook``) before a kernel starts, so a typo
costs a one-line error, not a kernel start (~1.5 s) and a silent "unknown parameter"
warning.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError, did_you_mean

log = logging.getLogger(__name__)

SUMMARY_TAG = "summary"


@dataclass
class RunResult:
    """One executed notebook: where it went, how long it took, and how it ended."""

    source: Path
    notebook: Path
    seconds: float
    html: Path | None = None
    failure: str | None = None     # one line: which cell, which error
    summary: str = ""              # one line of what it found (the `summary` cell's output)
    title: str = ""

    @property
    def ok(self) -> bool:
        return self.failure is None


def parse_value(text: str) -> Any:
    """A ``-p`` value: YAML scalars and lists (3, 2.5, true, null, [a, b]), else the text."""
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if _plain(value) else text


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def load_parameters(path: Path | None, pairs: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Parameters from a YAML file, then ``-p NAME VALUE`` pairs (which win)."""
    params: dict[str, Any] = {}
    if path is not None:
        import yaml

        try:
            loaded = yaml.safe_load(Path(path).read_text())
        except OSError as exc:
            raise UsageError(f"cannot read parameters file {str(path)!r}: {exc.strerror}",
                             suggestion="pass an existing YAML file with -f") from None
        except yaml.YAMLError as exc:
            raise UsageError(f"parameters file {str(path)!r} is not YAML: "
                             f"{str(exc).splitlines()[0]}",
                             suggestion="write one `name: value` per line") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise UsageError(f"parameters file {str(path)!r} holds a "
                             f"{type(loaded).__name__}, not name: value pairs",
                             suggestion="write one `name: value` per line")
        params.update(loaded or {})
    for name, value in pairs:
        params[name] = parse_value(value)
    return params


def check_notebook(notebook: Path) -> Path:
    """``notebook`` if it is an .ipynb file, else ``UsageError`` naming the closest ones."""
    path = Path(notebook)
    if path.suffix == ".ipynb" and path.is_file():
        return path
    folder = path.parent if path.parent.is_dir() else Path(".")
    names = sorted(str(p) for p in folder.glob("*.ipynb"))
    raise UsageError(f"notebook {str(path)!r} does not exist{did_you_mean(str(path), names)}",
                     suggestion=("notebooks there: " + ", ".join(names)) if names else
                     "pass the path of an .ipynb file, e.g. notebooks/quickstart.ipynb")


def notebook_parameters(notebook: Path) -> dict[str, Any]:
    """The names (and inferred types/defaults) of the notebook's ``parameters`` cell."""
    import papermill

    return dict(papermill.inspect_notebook(str(notebook)))


def check_parameters(notebook: Path, params: Mapping[str, Any]) -> None:
    """Every name in ``params`` must be in the notebook's ``parameters`` cell."""
    if not params:
        return
    declared = notebook_parameters(notebook)
    if not declared:
        raise UsageError(f"{notebook.name} has no cell tagged 'parameters', so it takes none "
                         f"(given {', '.join(params)})",
                         suggestion="tag the cell of defaults `parameters` in Jupyter")
    unknown = [n for n in params if n not in declared]
    if unknown:
        said = "; ".join(f"{n!r}{did_you_mean(n, declared)}" for n in unknown)
        raise UsageError(f"{notebook.name} has no parameter {said}",
                         suggestion="its parameters: " + ", ".join(declared))


def run_notebook(notebook: Path, out: Path, params: Mapping[str, Any] | None = None, *,
                 html: bool = False, no_input: bool = False, cwd: Path | None = None,
                 timeout: float | None = 600) -> RunResult:
    """Execute ``notebook`` into ``out/<name>`` with papermill; export it to HTML if asked.

    A failing cell does not raise: ``RunResult.failure`` names it (the executed notebook,
    and its HTML, show everything up to it). The kernel runs in ``cwd`` (default: this
    process's working directory, as papermill does), so a runbook's relative paths such as
    ``report_path = "reports/x.html"`` land beside ``--out reports`` when run from the
    checkout.
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    source = check_notebook(notebook)
    params = dict(params or {})
    check_parameters(source, params)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / source.name
    if target.resolve() == source.resolve():
        raise UsageError(f"--out {str(out)!r} would overwrite the notebook itself",
                         suggestion="pass another folder, e.g. --out reports")
    began = time.perf_counter()
    failure: str | None = None
    try:
        papermill.execute_notebook(str(source), str(target), parameters=params,
                                   progress_bar=False, log_output=False,
                                   cwd=str(cwd) if cwd else None, execution_timeout=timeout,
                                   # ipykernel's "running over TCP without encryption"
                                   # warning on every run is noise on a local kernel
                                   extra_arguments=["--IPKernelApp.log_level=ERROR"])
    except PapermillExecutionError as exc:
        failure = _describe_failure(source, target, exc)
    seconds = time.perf_counter() - began
    executed = nbformat.read(target, as_version=4)
    result = RunResult(source=source, notebook=target, seconds=seconds, failure=failure,
                       summary=summary_of(executed), title=title_of(executed, source))
    if html:
        from .export import to_html

        result.html = target.with_suffix(".html")
        result.html.write_text(to_html(executed, no_input=no_input,
                                       resources_dir=source.parent), encoding="utf-8")
    return result


def _describe_failure(source: Path, target: Path, exc: Any) -> str:
    """One line: the failing cell (its prompt number and first line) and the error.

    Read from the written notebook: papermill puts an error banner cell at the top, so its
    ``cell_index`` does not point at the failing cell there."""
    import nbformat

    where = f"cell {exc.exec_count or exc.cell_index}"
    try:
        for cell in nbformat.read(target, as_version=4).cells:
            if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
                first = next((ln.strip() for ln in cell.source.splitlines() if ln.strip()), "")
                where = f"cell In [{cell.get('execution_count')}] ({first[:60]!r})"
                break
    except (OSError, ValueError):
        pass
    value = str(exc.evalue).strip().splitlines()
    return (f"{source.name} failed in {where}: {exc.ename}: {value[0] if value else ''}"
            f" — the executed notebook is {target}")


def _text_of(cell: Any) -> str:
    """A code cell's printed or displayed text (stdout, else text/plain)."""
    parts: list[str] = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            parts.append(output.get("text", ""))
        elif "data" in output and "text/plain" in output["data"]:
            parts.append(str(output["data"]["text/plain"]).strip("'\""))
    return "".join(parts).strip()


def summary_of(nb: Any) -> str:
    """One line of what the notebook found: the output of its last cell tagged ``summary``,
    else the first error, else the last line it printed, else ''."""
    for cell in reversed(nb.cells):
        if SUMMARY_TAG in cell.get("metadata", {}).get("tags", []):
            text = _text_of(cell)
            if text:
                return " ".join(text.split())[:300]
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return f"{output.get('ename')}: {output.get('evalue')}"[:300]
    for cell in reversed(nb.cells):  # untagged: the last line the notebook printed
        printed = [o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout"]
        lines = [ln.strip() for ln in "".join(printed).splitlines() if ln.strip()]
        if lines:
            return lines[-1][:300]
    return ""


def title_of(nb: Any, source: Path) -> str:
    """The first markdown heading, else the file name."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return source.stem
