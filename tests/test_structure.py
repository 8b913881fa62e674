"""The package's shape: layers import only downward, no cycles, modules of one job.

Read from the source with ``ast`` (every import, including lazy ones inside functions and
``TYPE_CHECKING`` blocks), so the rule holds for what the code *could* import, not only
for what one run happened to load.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

import geuse_nb

PACKAGE = Path(geuse_nb.__file__).resolve().parent

# Rank of each layer: a module may import its own layer's package or any lower rank.
# Packages of equal rank are siblings and may not import each other.
LAYERS: dict[str, int] = {
    "config": 0, "errors": 0, "kinds": 0, "states": 0, "shared": 0,
    "observe": 1, "sandbox": 1,
    "cache": 2, "engine": 2,
    "aws": 3,
    "kit": 4,
    "ops": 5,
    "face": 6,
}
BASE = {name for name, rank in LAYERS.items() if rank == 0}
MAX_LINES = 420  # "about 400": past this a module's docstring must say why it is one module
WHY_MARK = "Why one module:"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_only(tree: ast.AST) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:`` (annotations only)."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            inside.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return inside


def _imports(path: Path, *, runtime_only: bool = False) -> set[str]:
    """Every geuse_nb module ``path`` imports, resolved to absolute dotted names; with
    ``runtime_only`` not those under ``if TYPE_CHECKING:``, which never execute."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text(), str(path))
    skip = _type_only(tree) if runtime_only else set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("geuse_nb"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("geuse_nb"):
                continue
            # `from . import shared` names a module; `from .x import f` names x
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found.add(candidate if _is_module(candidate) else target)
    return found


def _is_module(dotted: str) -> bool:
    rel = Path(*dotted.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").exists() or (PACKAGE / rel / "__init__.py").exists()


def _layer(dotted: str) -> str | None:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else None


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_import_cycle() -> None:
    # Type-only imports may point both ways (a Renderer's hooks name the Board that calls
    # them); the layer test below still checks their direction.
    graph = {_module_name(p): _imports(p, runtime_only=True) - {_module_name(p)}
             for p in _sources()}
    # A package's __init__ importing its own submodules is how packages re-export; the
    # submodules importing siblings through the package would be the cycle to catch.
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_layers_import_only_downward() -> None:
    wrong: list[str] = []
    for path in _sources():
        me = _module_name(path)
        mine = _layer(me)
        if mine is None:  # geuse_nb/__init__.py: the public face re-exports from every layer
            continue
        assert mine in LAYERS, f"{me}: layer {mine!r} is not in this test's LAYERS table"
        for target in _imports(path):
            theirs = _layer(target)
            if theirs is None and mine == "face":
                continue  # the top layer may use the public face, `import geuse_nb as gn`
            if theirs is None:
                wrong.append(f"{me} imports the package root {target} (import the module)")
            elif theirs == mine:
                continue
            elif theirs not in LAYERS:
                wrong.append(f"{me} imports {target}, in no known layer")
            elif LAYERS[theirs] > LAYERS[mine] or (
                    LAYERS[theirs] == LAYERS[mine] and mine not in BASE):
                wrong.append(f"{me} (layer {mine}) imports {target} (layer {theirs})")
            elif mine == "sandbox" and theirs not in BASE:
                wrong.append(f"{me}: the sandbox imports no client code, but imports {target}")
    assert not wrong, "\n".join(wrong)


def test_the_layer_table_matches_the_tree() -> None:
    on_disk = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
               if (p.suffix == ".py" and p.stem != "__init__")
               or (p.is_dir() and (p / "__init__.py").exists())}
    assert on_disk == set(LAYERS), "update LAYERS (and the README's Layout) for the new tree"


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_is_one_job(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    if lines <= MAX_LINES:
        return
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert WHY_MARK in doc, (f"{path.name} has {lines} lines (> {MAX_LINES}): split it along "
                             f"its seams, or say in its docstring '{WHY_MARK} …'")


def test_no_package_attribute_is_both_module_and_function() -> None:
    import importlib
    import types

    for name in geuse_nb.__all__:
        value = getattr(geuse_nb, name)
        assert not isinstance(value, types.ModuleType), f"gn.{name} is a module"
        assert not _is_module(f"geuse_nb.{name}") or not callable(value), (
            f"gn.{name} is a function and also the module geuse_nb.{name}: importing the "
            "module rebinds the attribute")
    # Importing every submodule must leave the public functions in place.
    for path in _sources():
        importlib.import_module(_module_name(path))
    for name in geuse_nb.__all__:
        assert not isinstance(getattr(geuse_nb, name), types.ModuleType), name
