"""nbval runs these notebooks in real kernels: give each kernel the test guards' world.

Fake credentials (nothing can sign for a real account), a throw-away cache dir, and an
IPython startup file that installs the loopback-only network guard inside the kernel.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import netguard


def pytest_configure(config: pytest.Config) -> None:
    root = Path(tempfile.mkdtemp(prefix="geuse-nbval-"))
    config.stash[_ROOT] = root
    netguard.offline_aws_environment()
    os.environ.update({
        "GEUSE_CACHE_DIR": str(root / "cache"),
        "IPYTHONDIR": str(netguard.ipython_dir(root / "ipython")),
    })


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Kernels are not for `make quick`. (A notebook's cells share one kernel: `make
    test`'s `--dist loadfile` keeps them on one worker, in order.)"""
    for item in items:
        if item.nodeid.startswith("notebooks/"):
            item.add_marker(pytest.mark.heavy)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(config.stash.get(_ROOT, ""), ignore_errors=True)


_ROOT = pytest.StashKey[Path]()
