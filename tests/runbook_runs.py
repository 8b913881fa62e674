"""The session's one run of every runbook, and the install it runs from.

Executing a runbook costs a kernel start and its whole body (the four together: ~1-2
minutes on this machine), and four test modules used to execute each one themselves
(nbval, the demo test, the CLI test, the canary test). Now nbval runs them cell by cell
(its own check: every ``assert`` in a cell) and one ``geuse-nb demo`` runs them all once
more, as a user who installed the wheel would: the package is built into a wheel,
installed into a fresh venv, and the demo runs from an empty directory with canary
credentials in its environment. The demo test (pages, index), the packaging test and
the secrets test (scan every file for the canary) read that one run.

Under ``pytest -n 2`` (xdist) a session fixture is per worker, so the wheel and the demo
are made once in a folder both workers see, under a file lock (``once``): the first
worker to ask makes it, the other waits for it and reads it. (``--dist loadgroup``, which
would send every reader to one worker, does not group under pytest 9.2 with xdist 3.8:
the group suffix it writes into ``item._nodeid`` is no longer read.)

The fresh venv is made with this interpreter's ``venv`` (no pip: ~0.1 s) and the wheel
is installed into it with this environment's pip (``pip --python``, ``--no-deps``); the
dependencies are this venv's (a ``.pth`` naming its site-packages), the same versions
the wheel's metadata accepts (and ``JUPYTER_PATH`` names their data files, such as
nbconvert's templates): installing ~150 of them again from pip's cache costs
~1.5 minutes and would test pip, not the wheel. What comes from the wheel is checked:
``geuse_nb``, its ``geuse-nb`` script and its runbooks (``share/geuse_nb/runbooks``).
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import string
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_ALNUM = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class WheelEnv:
    """A fresh venv with the built wheel installed."""

    prefix: Path
    wheel: Path

    @property
    def python(self) -> Path:
        return self.prefix / "bin" / "python"

    @property
    def command(self) -> Path:
        return self.prefix / "bin" / "geuse-nb"

    def environ(self, **extra: str) -> dict[str, str]:
        """This process's environment with the venv first on PATH (kernels are started
        as ``python -m ipykernel_launcher``: they must be this venv's python)."""
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        env["PATH"] = f"{self.prefix / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.prefix)
        # the dependencies' own data files (nbconvert's templates, ipykernel's kernel
        # spec) are under this venv's prefix, beside the site-packages the .pth names
        env["JUPYTER_PATH"] = os.pathsep.join(
            [str(Path(sys.prefix) / "share" / "jupyter"), env.get("JUPYTER_PATH", "")])
        env.update(extra)
        return env


def build_wheel_env(root: Path) -> None:
    """Build the wheel from the checkout and install it into ``root/venv``."""
    wheels = root / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                    "--wheel-dir", str(wheels), str(ROOT)], check=True, timeout=300,
                   capture_output=True)
    wheel = next(wheels.glob("geuse_nb-*.whl"))
    prefix = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True,
                   timeout=60)
    env = WheelEnv(prefix=prefix, wheel=wheel)
    site = subprocess.run([str(env.python), "-c", "import sysconfig; "
                           "print(sysconfig.get_path('purelib'))"], check=True,
                          capture_output=True, text=True, timeout=60).stdout.strip()
    (Path(site) / "geuse_nb_dependencies.pth").write_text(
        sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(env.python), "install",
                    "--quiet", "--no-deps", "--no-index", str(wheel)], check=True,
                   timeout=300, capture_output=True)


def shared_root(basetemp: Path) -> Path:
    """Where the session's shared runs go: beside every worker's own temp folder under
    xdist (``pytest-N/``), the session's temp folder otherwise."""
    return basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp


def once(folder: Path, make: Callable[[Path], None]) -> Path:
    """``make(folder)`` unless another worker of this session did; ``folder`` either way."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder.parent / f"{folder.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (folder / ".done").exists():
            make(folder)
            (folder / ".done").write_text("")
    return folder


def load_wheel_env(root: Path) -> WheelEnv:
    """The venv ``build_wheel_env(root)`` made."""
    return WheelEnv(prefix=root / "venv", wheel=next((root / "wheels").glob("geuse_nb-*.whl")))


def canaries() -> tuple[str, str]:
    """An access key id and a secret that exist nowhere else."""
    key = "AKIA" + "CANARY" + "".join(secrets.choice(_ALNUM) for _ in range(10))
    secret = "canarySecret" + secrets.token_hex(14)
    return key, secret


@dataclass(frozen=True)
class DemoRun:
    """One ``geuse-nb demo`` from the wheel's venv, in an empty directory."""

    out: Path
    cache: Path
    cwd: Path
    stdout: str
    returncode: int
    canaries: tuple[str, str]


def load_demo(root: Path) -> DemoRun:
    """The run ``save_demo(root, ...)`` wrote."""
    data = json.loads((root / "demo.json").read_text())
    return DemoRun(out=Path(data["out"]), cache=Path(data["cache"]), cwd=Path(data["cwd"]),
                   stdout=data["stdout"], returncode=data["returncode"],
                   canaries=(data["canaries"][0], data["canaries"][1]))


def save_demo(env: WheelEnv, root: Path) -> None:
    """Run the demo into ``root`` and write what it did to ``root/demo.json``."""
    run = run_demo(env, root)
    data = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(run).items()}
    (root / "demo.json").write_text(json.dumps(data))


def run_demo(env: WheelEnv, root: Path) -> DemoRun:
    """``geuse-nb demo`` with canary credentials, the network guard in every kernel, a
    cache dir of its own (uncompressed, so a scan sees every byte)."""
    import netguard

    cwd = root / "empty"
    cwd.mkdir()
    out = root / "reports"
    key, secret = canaries()
    environ = env.environ(IPYTHONDIR=str(netguard.ipython_dir(root / "ipython")),
                          GEUSE_CACHE_DIR=str(root / "cache"),
                          GEUSE_CACHE_COMPRESSION_ENABLED="false",
                          AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret)
    done = subprocess.run([str(env.command), "demo", "--out", str(out)], capture_output=True,
                          text=True, timeout=900, env=environ, cwd=cwd, check=False)
    return DemoRun(out=out, cache=root / "cache", cwd=cwd, stdout=done.stdout + done.stderr,
                   returncode=done.returncode, canaries=(key, secret))
