"""``geuse-nb lab``: the runbooks in JupyterLab, where the progress widgets are live.

JupyterLab is the ``lab`` extra (``pip install 'geuse_nb[lab]'``), not a dependency: a
plain install runs and exports runbooks headless. From a checkout the command opens
``notebooks/`` itself (the runbooks' one source, edited in place); from a wheel it
first copies the installed runbooks into ``./runbooks`` (files already there are kept,
never overwritten) so that what is edited is the user's copy, not the installed one.
The server is ``python -m jupyterlab`` of this interpreter (its kernels see this
install); every other argument goes to it unchanged (``--no-browser --port 8899``). On
POSIX the command becomes the server (``os.execv``), so a SIGTERM reaches JupyterLab,
which shuts its kernels down; a waiting parent died of it and left the server and its
kernels running (found by the live test, which stops the lab with ``terminate()``).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import UsageError
from ._runbooks import discover, runbooks_dir

log = logging.getLogger(__name__)


def lab_folder(folder: Path | None = None) -> Path:
    """The folder JupyterLab opens; copies the installed runbooks there when needed."""
    source = runbooks_dir()
    installed = Path(sys.prefix).resolve() in source.resolve().parents
    if folder is None and not installed:
        return source
    target = Path(folder) if folder is not None else Path("runbooks")
    if target.resolve() == source.resolve():
        return target
    target.mkdir(parents=True, exist_ok=True)
    for book in discover(source):
        if not (target / book.name).exists():
            shutil.copyfile(book, target / book.name)
    return target


def start(folder: Path | None, jupyter_args: Sequence[str]) -> int:
    """Run JupyterLab on the runbooks until it stops; its exit code."""
    if importlib.util.find_spec("jupyterlab") is None:
        raise UsageError("JupyterLab is not installed in this environment",
                         suggestion="pip install 'geuse_nb[lab]' (or: pip install jupyterlab)")
    root = lab_folder(folder)
    print(f"JupyterLab on {root} (runbooks: {', '.join(p.name for p in discover(root))})",
          flush=True)
    args = [a for a in jupyter_args if a != "--"]
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}", *args]
    log.debug("starting %s", command)
    if os.name == "posix":
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, command)  # does not return
    return subprocess.call(command)
