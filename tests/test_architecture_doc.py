"""docs/architecture.md is the map of the house: it must name every folder under geuse_nb/
(read from the tree now, so a new package fails this until the page places it) and
name no geuse_nb/ path that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
PACKAGE = ROOT / "geuse_nb"
PATH = re.compile(r"geuse_nb/[\w./]*")


def _folders() -> set[str]:
    return {p.relative_to(ROOT).as_posix() + "/" for p in PACKAGE.rglob("*")
            if p.is_dir() and p.name != "__pycache__" and any(p.glob("*.py"))}


def _named() -> set[str]:
    return {m.rstrip(".") for m in PATH.findall(DOC.read_text())}


def test_every_folder_is_named() -> None:
    named = _named()
    missing = sorted(f for f in _folders() if f not in named and f.rstrip("/") not in named)
    assert missing == [], f"docs/architecture.md does not name {missing}"


def test_no_named_path_is_missing() -> None:
    gone = sorted(p for p in _named() if not (ROOT / p).exists())
    assert gone == [], f"docs/architecture.md names paths that do not exist: {gone}"


def test_the_map_names_the_extension_points_and_where_things_go() -> None:
    text = DOC.read_text()
    for needed in ("register_frontend", "register_tier", "register_backend",
                   "A new runbook", "A new AWS operation kind", "A new sandbox behaviour",
                   "Imports go only downward", "One class per variation point"):
        assert needed in text, needed
