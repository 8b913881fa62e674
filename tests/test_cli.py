"""``geuse-nb``: --version, run (papermill + offline HTML, a failing cell named in one line),
report, cache, and the rough edges a new user found (a closed pipe, a stale sandbox URL)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from geuse_nb.face.cli import build_parser, main
from geuse_nb.face.export import external_references

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "notebooks" / "quickstart.ipynb"
COMMAND = str(Path(sys.executable).with_name("geuse-nb"))  # the console script


@pytest.fixture()
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kernels papermill starts get the network guard and the sandbox backend."""
    import netguard

    monkeypatch.setenv("IPYTHONDIR", str(netguard.ipython_dir(tmp_path / "ipython")))
    monkeypatch.setenv("GEUSE_BACKEND", "sandbox")


def test_version_and_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == "geuse-nb 0.1.0"
    usage = build_parser().format_help()
    for command in ("run", "report", "cache", "demo", "sandbox"):
        assert f"    {command}" in usage, usage


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`geuse-nb ... | head`: the reader is gone before the output; no traceback."""
    env = {**os.environ, "GEUSE_CACHE_DIR": str(tmp_path)}
    proc = subprocess.Popen([COMMAND, "cache", "stats"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # what `head` does once it has its lines
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 141, err
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_a_stale_sandbox_url_says_how_to_start_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "status", "--url", "http://127.0.0.1:9"]) == 1
    err = capsys.readouterr().err
    assert "did not answer" in err and "geuse-nb sandbox start" in err
    assert "geuse-nb sandbox status" not in err  # it used to suggest running itself again


def test_cache_stats_and_clear(kit: Any, capsys: pytest.CaptureFixture[str]) -> None:
    kit.records("ec2", "describe_regions")
    kit.close()  # the CLI reads the same cache dir ($GEUSE_CACHE_DIR) from outside
    assert main(["cache", "stats"]) == 0
    out = capsys.readouterr().out
    assert "regions" in out and " 1 entries" in out
    assert main(["cache", "clear", "disk"]) == 0
    assert main(["cache", "stats"]) == 0
    assert "regions" not in capsys.readouterr().out.split("cleared", 1)[1]


@pytest.mark.parametrize(("argv", "message"), [
    (["run", "notebooks/quickstrt.ipynb"], "(did you mean 'notebooks/quickstart.ipynb'"),
    (["run", str(QUICKSTART), "-p", "hour", "3"], "has no parameter 'hour' (did you mean "
                                                  "'hours'?)"),
    (["run", str(QUICKSTART), "-f", "missing.yaml"], "cannot read parameters file"),
    (["report", "nothing.ipynb"], "is not a notebook"),
])
def test_bad_run_input_costs_no_kernel(argv: list[str], message: str,
                                       capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_parameter_values_are_yaml(tmp_path: Path) -> None:
    from geuse_nb.face.runner import load_parameters

    params_file = tmp_path / "p.yaml"
    params_file.write_text("hours: 12\nregions: [us-east-1]\n")
    got = load_parameters(params_file, [["hours", "3"], ["backend", "sandbox"],
                                        ["when", "2026-01-01"], ["ratio", "0.5"]])
    assert got == {"hours": 3, "regions": ["us-east-1"], "backend": "sandbox",
                   "when": "2026-01-01", "ratio": 0.5}


@pytest.mark.timeout(240)
def test_run_quickstart_with_parameters_and_html(tmp_path: Path, kernel_env: None,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("regions: [us-east-1, eu-west-1]\nhours: 12\n")
    out = tmp_path / "out"
    assert main(["run", str(QUICKSTART), "-f", str(params), "-p", "hours", "3",
                 "--out", str(out), "--html"]) == 0, capsys.readouterr().err
    executed = nbformat.read(out / "quickstart.ipynb", as_version=4)
    injected = next(c for c in executed.cells
                    if "injected-parameters" in c.metadata.get("tags", []))
    assert "hours = 3" in injected.source and "eu-west-1" in injected.source
    page = (out / "quickstart.html").read_text()
    assert external_references(page) == [] and "2 regions" in page


@pytest.mark.timeout(240)
def test_a_failing_cell_exits_non_zero_naming_it(tmp_path: Path, kernel_env: None,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(QUICKSTART), "-p", "hours", "0", "--out", str(tmp_path),
                 "--html"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "quickstart.ipynb failed in cell In [" in err[0]
    assert "AssertionError: hours must be at least 1, got 0" in err[0]
    assert (tmp_path / "quickstart.html").exists()  # the page shows where it stopped


# `geuse-nb run spot ...` (by name, from the installed wheel, and a failing cell there):
# tests/test_packaging.py::test_run_spot_by_name_from_the_wheel
