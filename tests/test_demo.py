"""`make demo`'s job, end to end: a real session against the sandbox, reports written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_demo_runs_and_writes_reports(tmp_path: Path) -> None:
    env = {**os.environ, "GEUSE_PROGRESS_QUIET_MODE": "0"}
    geuse_nb_command = Path(sys.executable).with_name("geuse-nb")  # the console script
    out = subprocess.run([str(geuse_nb_command), "demo", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=240, env=env, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "from cache in" in out.stdout and "rollout: 5 of 5 jobs done" in out.stdout
    assert "\x1b[" not in out.stdout + out.stderr  # a pipe gets plain lines, no escape codes
    report = json.loads((tmp_path / "demo.json").read_text())
    assert report["sections"]["summary"]["data"]["cache_hits"] > 0
    assert "rollout to 4 regions" in json.dumps(report["sections"]["latency"]["data"]["operations"])
    html = (tmp_path / "demo.html").read_text()
    assert "data:image/png;base64," in html and "<script" not in html
    assert (tmp_path / "demo.md").read_text().startswith("# ")
