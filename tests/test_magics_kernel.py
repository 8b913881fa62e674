"""The magics once in a real kernel (nbclient), as a notebook user meets them: %load_ext,
%config, %geuse, %aws (a DataFrame, then the same line from the cache), %%timed, and a
UsageError that shows as one line without a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import netguard
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

CELLS = [
    "%load_ext geuse_nb\n%config GeuseMagics.kit_name = 'kernel-kit'",
    "%geuse init --backend sandbox",
    "zones = %aws ec2 describe-availability-zones --region eu-west-1\n"
    "import geuse_nb as gn\nkit = gn.get_kit()\nsent = kit.sandbox.requests()\n"
    "again = %aws ec2 describe-availability-zones --region eu-west-1\n"
    "assert kit.sandbox.requests() == sent and again.equals(zones)\n"
    "print(type(zones).__name__, len(zones), kit.name)",
    "%%timed kernel step --category test\nx = sum(range(10))",
    "%aws ec2 describe-avialability-zones",
    "%geuse status",
    "ops = kit.metrics.frame('operations')\n"
    "print(ops[['name', 'category', 'ok']].to_dict('records'))\nkit.close()",
]


@pytest.mark.timeout(180)
def test_magics_in_a_kernel(sandbox: Any, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEUSE_SANDBOX_URL", sandbox.url)
    monkeypatch.setenv("IPYTHONDIR", str(netguard.ipython_dir(tmp_path / "ipython")))
    nb = new_notebook(cells=[new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    NotebookClient(nb, timeout=120, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    nbformat.validate(nb)

    def text(i: int) -> str:
        return "".join(o.get("text", "") for o in nb.cells[i].outputs
                       if o.output_type == "stream")

    def stderr(i: int) -> str:
        return "".join(o.get("text", "") for o in nb.cells[i].outputs
                       if o.output_type == "stream" and o.name == "stderr")

    errors = [i for i, c in enumerate(nb.cells) for o in c.outputs if o.output_type == "error"]
    assert errors == [], [nb.cells[i].outputs for i in errors]
    # IPython shows a UsageError as one stderr line, not as an error with a traceback
    bad = stderr(4).strip().splitlines()
    assert len(bad) == 1 and bad[0].startswith("UsageError: "), bad
    assert "(did you mean 'describe-availability-zones'" in bad[0]
    assert all("UsageError" not in stderr(i) for i in (0, 1, 2, 3, 5, 6))
    assert text(2).strip() == "DataFrame 3 kernel-kit"
    assert "kernel step:" in text(3)
    assert "kit 'kernel-kit': sandbox at" in text(5)
    assert "{'name': 'kernel step', 'category': 'test', 'ok': True}" in text(6)
