"""The runbook catalogue (geuse_nb/face/_runbooks.py): found by a glob, named by number or
part of a name, copied out without overwriting, and parameters cells papermill can read."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from geuse_nb.errors import UsageError
from geuse_nb.face._runbooks import catalogue, discover, resolve, runbooks_dir
from geuse_nb.face.cli import main

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def test_a_checkout_finds_its_own_notebooks_folder() -> None:
    assert runbooks_dir() == NOTEBOOKS
    books = discover()
    assert books[0].name == "quickstart.ipynb"
    assert books[1:] == sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def test_a_new_runbook_is_found_by_being_there(tmp_path: Path) -> None:
    for name in ("quickstart.ipynb", "01_a.ipynb", "07_new_thing.ipynb", "notes.ipynb"):
        (tmp_path / name).write_text((NOTEBOOKS / "quickstart.ipynb").read_text())
    assert [p.name for p in discover(tmp_path)] == ["quickstart.ipynb", "01_a.ipynb",
                                                     "07_new_thing.ipynb"]
    assert resolve("7", tmp_path).name == "07_new_thing.ipynb"
    assert resolve("new_thing", tmp_path).name == "07_new_thing.ipynb"


@pytest.mark.parametrize(("name", "stem"), [
    ("spot", "01_spot_selection"), ("01", "01_spot_selection"), ("1", "01_spot_selection"),
    ("01_spot_selection", "01_spot_selection"), ("spot_selection", "01_spot_selection"),
    ("00", "quickstart"), ("quickstart", "quickstart"), ("Rollout", "02_multi_region_rollout"),
])
def test_resolve_names(name: str, stem: str) -> None:
    assert resolve(name).stem == stem


def test_resolve_a_path_is_left_to_the_runner() -> None:
    assert resolve("notebooks/quickstrt.ipynb") == Path("notebooks/quickstrt.ipynb")


@pytest.mark.parametrize(("name", "message"), [
    ("spto", "no runbook 'spto' (did you mean"), ("99", "no runbook '99'"),
    ("_", "fits"),
])
def test_resolve_refuses_what_fits_none_or_several(name: str, message: str) -> None:
    with pytest.raises(UsageError) as err:
        resolve(name)
    assert message in str(err.value) and err.value.suggestion


def test_catalogue_reads_number_question_and_parameters() -> None:
    books = {b.number: b for b in catalogue()}
    assert books["00"].name == "quickstart" and books["00"].answers.endswith("?")
    assert books["01"].title == "Spot selection"
    assert books["01"].answers.startswith("Where do I get the GPUs")
    assert "days" in books["01"].parameters and "hours" in books["00"].parameters


def test_every_parameters_cell_is_read_without_a_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    """papermill reads each line of a parameters cell; one it cannot parse is dropped with
    a warning ("Unable to parse line ...") and that parameter cannot be set with -p."""
    import nbformat
    import papermill

    for book in discover():
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="papermill"):
            declared = papermill.inspect_notebook(str(book))
        assert not [r for r in caplog.records if "Unable to parse" in r.getMessage()], book
        nb = nbformat.read(book, as_version=4)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        assigned = {ln.split("=")[0].strip() for ln in cell.source.splitlines()
                    if "=" in ln and not ln.startswith((" ", "#"))}
        assert assigned == set(declared), book  # every assignment is a parameter


def test_new_copies_a_runbook_and_never_overwrites(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "spot", "--to", str(tmp_path / "mine")]) == 0
    copy = tmp_path / "mine" / "01_spot_selection.ipynb"
    assert copy.read_bytes() == (NOTEBOOKS / "01_spot_selection.ipynb").read_bytes()
    copy.write_text("my edits")
    assert main(["new", "01", "--to", str(tmp_path / "mine")]) == 1
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err
    assert copy.read_text() == "my edits"
    assert main(["new", "01", "--to", str(tmp_path / "mine"), "--force"]) == 0
    assert copy.read_bytes() == (NOTEBOOKS / "01_spot_selection.ipynb").read_bytes()


def test_runbooks_command_lists_each(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runbooks"]) == 0
    out = capsys.readouterr().out
    for book in discover():
        assert book.stem in out
    assert "What does geuse_nb give a notebook?" in out


def test_lab_without_jupyterlab_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "jupyterlab" else real(name, *a))
    assert main(["lab", "--no-browser"]) == 1
    assert "geuse_nb[lab]" in capsys.readouterr().err


def test_lab_folder_copies_installed_runbooks_without_overwriting(tmp_path: Path) -> None:
    from geuse_nb.face.lab import lab_folder

    assert lab_folder() == NOTEBOOKS  # a checkout opens its own notebooks/
    target = tmp_path / "books"
    target.mkdir()
    (target / "quickstart.ipynb").write_text("mine")
    assert lab_folder(target) == target
    assert (target / "quickstart.ipynb").read_text() == "mine"
    assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in discover())
