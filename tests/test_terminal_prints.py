"""User prints during a live terminal render land above it, whole (``_stdout.py``).

A real terminal: tmux runs ``tests/fixtures/terminal_prints.py`` (a kit.pmap whose 8 jobs
print 5 lines each while a board and the map's bar are live) in a detached 150×50
window; the screen and its history are captured as text. Every printed line must be
there once and intact, and the table's final drawing must come after all of them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).parent / "fixtures" / "terminal_prints.py"
JOBS, LINES = 8, 5
TMUX = shutil.which("tmux") or "/usr/bin/tmux"


def _in_tmux(tmp_path: Path, args: list[str]) -> str:
    """Run ``args`` in a fresh tmux server's 150×50 window; the screen and history."""
    sock = f"geuse-{uuid.uuid4().hex[:8]}"
    done = f"done-{sock}"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GEUSE_PROGRESS", "TMUX"))}
    env.update(TERM="xterm-256color", NO_COLOR="1", COLUMNS="150")
    exit_file = tmp_path / "exit"
    command = " ".join([*map(_quote, args), f"; echo $? > {_quote(str(exit_file))};",
                        f"{TMUX} -L {sock} wait-for -S {done}"])
    conf = tmp_path / "tmux.conf"
    conf.write_text("set -g remain-on-exit on\nset -g history-limit 5000\n")
    tmux = [TMUX, "-L", sock, "-f", str(conf)]
    subprocess.run([*tmux, "new-session", "-d", "-x", "150", "-y", "50", "-s", "t",
                    "sh", "-c", command], env=env, check=True, timeout=30)
    try:
        subprocess.run([*tmux, "wait-for", done], env=env, check=True, timeout=180)
        screen = subprocess.run([*tmux, "capture-pane", "-p", "-J", "-t", "t",
                                 "-S", "-", "-E", "-"],
                                env=env, check=True, timeout=30, capture_output=True,
                                text=True).stdout
    finally:
        subprocess.run([*tmux, "kill-server"], env=env, timeout=30)
    assert exit_file.read_text().strip() == "0", screen
    return screen


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


@pytest.mark.skipif(not Path(TMUX).exists(), reason="tmux is not installed")
def test_prints_land_above_the_live_table_and_bar_intact(sandbox: Any, tmp_path: Path) -> None:
    screen = _in_tmux(tmp_path, [sys.executable, str(SCRIPT), sandbox.url])
    lines = [line.rstrip() for line in screen.splitlines()]
    printed = [f"job{i} says line {k}: {'-' * 30} end" for i in range(JOBS)
               for k in range(LINES)]
    for want in printed:  # each print once, whole, on a line of its own
        assert lines.count(want) == 1, (want, screen)
    said = [n for n, line in enumerate(lines) if "says line" in line]
    assert len(said) == JOBS * LINES, screen  # no print cut, doubled or merged into a row
    rows = [n for n, line in enumerate(lines)
            if re.fullmatch(r"\s+✓ job\d\s+done\s+\S+\s+5 lines", line)]
    assert len(rows) >= JOBS, screen
    final = rows[-JOBS:]  # the final table: 8 rows together, after every print
    assert final == list(range(final[0], final[0] + JOBS)) and final[0] > max(said), screen
    assert lines.index("AFTER THE MAP") > final[-1]
