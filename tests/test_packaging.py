"""A package people install: the built wheel, in a fresh venv, from an empty directory.

The wheel is built from this checkout and installed into a new venv (tests/runbook_runs.py
says how and why the dependencies are this venv's); then, as a new user would, from an
empty directory: ``geuse-nb runbooks`` lists every runbook, ``geuse-nb run spot -p days 2
--html --out x`` exits 0 with its page, and ``geuse-nb demo`` (the session's one run)
writes an index with every runbook ok.
"""

from __future__ import annotations

import hashlib
import subprocess
import zipfile
from pathlib import Path

import netguard
import runbook_runs

from geuse_nb.face._runbooks import discover
from geuse_nb.face.export import external_references

ROOT = Path(__file__).resolve().parents[1]
RUNBOOKS = discover(ROOT / "notebooks")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_wheel_carries_every_runbook_once(wheel_env: runbook_runs.WheelEnv) -> None:
    with zipfile.ZipFile(wheel_env.wheel) as wheel:
        shipped = {Path(n).name: _sha(wheel.read(n)) for n in wheel.namelist()
                   if n.endswith(".ipynb")}
        names = wheel.namelist()
    assert len(RUNBOOKS) >= 4
    assert shipped == {p.name: _sha(p.read_bytes()) for p in RUNBOOKS}  # the same bytes
    assert all("/data/share/geuse_nb/runbooks/" in n for n in names if n.endswith(".ipynb"))
    # one source: no copy of a runbook anywhere else in the repository
    tracked = subprocess.run(["git", "ls-files", "*.ipynb"], capture_output=True, text=True,
                             cwd=ROOT, check=False).stdout.split()
    copies = [t for t in tracked if Path(t).parent != Path("notebooks")
              and any(Path(t).name == r.name for r in RUNBOOKS)]
    assert copies == []
    where = subprocess.run([str(wheel_env.python), "-c", "import geuse_nb, sys; "
                            "print(geuse_nb.__file__)"], capture_output=True, text=True,
                           check=True, timeout=60, cwd=wheel_env.prefix).stdout
    assert where.startswith(str(wheel_env.prefix)), where  # the wheel's package, not ours


def _geuse_nb(env: runbook_runs.WheelEnv, cwd: Path, *args: str,
              **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(env.command), *args], capture_output=True, text=True,
                          timeout=400, cwd=cwd, env=env.environ(**extra), check=False)


def test_runbooks_lists_them_from_an_empty_directory(wheel_env: runbook_runs.WheelEnv,
                                                     tmp_path: Path) -> None:
    done = _geuse_nb(wheel_env, tmp_path, "runbooks")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert str(wheel_env.prefix) in lines[0] and f"{len(RUNBOOKS)} runbooks" in lines[0]
    listed = [ln.split()[:2] for ln in lines[1:] if ln[:2].isdigit()]
    expected = [["00", "quickstart"]] + [[p.name[:2], p.stem] for p in RUNBOOKS[1:]]
    assert listed == expected
    assert "parameters: " in done.stdout and "days=7" in done.stdout  # runbook 01's cell
    assert list(tmp_path.iterdir()) == []  # listing writes nothing


def test_run_spot_by_name_from_the_wheel(wheel_env: runbook_runs.WheelEnv,
                                         tmp_path: Path) -> None:
    kernel = {"IPYTHONDIR": str(netguard.ipython_dir(tmp_path / ".ipython")),
              "GEUSE_CACHE_DIR": str(tmp_path / ".cache"), "GEUSE_BACKEND": "sandbox"}
    done = _geuse_nb(wheel_env, tmp_path, "run", "spot", "-p", "days", "2", "--html",
                     "--out", "x", **kernel)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    page = tmp_path / "x" / "01_spot_selection.html"
    assert page.is_file() and "html: x/01_spot_selection.html" in done.stdout
    text = page.read_text()
    assert external_references(text) == []
    # the exported page shows the launch's attempts table: the pick's empty pool, then more
    assert "InsufficientInstanceCapacity" in text and "no_capacity" in text
    assert "Server.SpotInstanceTermination" in text  # and the interruption it recovered
    bad = _geuse_nb(wheel_env, tmp_path, "run", "01", "-p", "days", "0", "--out", "bad",
                    **kernel)
    assert bad.returncode == 1 and "failed in cell In [" in bad.stderr, bad.stderr[-2000:]


def test_demo_from_the_wheel_runs_every_runbook(demo_run: runbook_runs.DemoRun) -> None:
    assert demo_run.returncode == 0, demo_run.stdout[-4000:]
    index = (demo_run.out / "index.html").read_text()
    assert index.count('<tr class="ok">') == len(RUNBOOKS) and 'class="bad"' not in index
    assert f"{len(RUNBOOKS)} of {len(RUNBOOKS)} runbooks ok" in demo_run.stdout
