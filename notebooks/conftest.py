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
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "GEUSE_SANDBOX_URL"):
        os.environ.pop(name, None)
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "GEUSE_BACKEND": "sandbox", "GEUSE_CACHE_DIR": str(root / "cache"),
        "IPYTHONDIR": str(netguard.ipython_dir(root / "ipython")),
    })


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(config.stash.get(_ROOT, ""), ignore_errors=True)


_ROOT = pytest.StashKey[Path]()
