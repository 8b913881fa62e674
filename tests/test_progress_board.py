"""Progress.board: a live table of named rows on every front end."""

from __future__ import annotations

import enum
import io
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd
import pytest

from geuse_nb.config import resolve_settings
from geuse_nb.errors import UsageError
from geuse_nb.observe.progress import Progress

ESC = re.compile(r"[\x1b\r]")
ESC_CODES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
UP3 = "\x1b[F" * 3  # cursor up three lines: back over a three-row table
REGIONS = ["us-east-1", "eu-west-1", "ap-south-1"]


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class Handle:
    """What IPython's display handle does: records updates of one output."""

    def __init__(self, outputs: list[Any], obj: Any):
        self.outputs = outputs
        self.index = len(outputs)
        self.updates = 0
        outputs.append(obj)

    def update(self, obj: Any) -> None:
        self.outputs[self.index] = obj
        self.updates += 1


class Rollout(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    ROLLED_BACK = "rolled_back"


def loud(**kw: Any) -> Any:
    return resolve_settings(**{"progress_quiet": False, "progress_no_color": False, **kw})


def drive(p: Progress) -> pd.DataFrame:
    """A small rollout: one region done, one failed and rolled back, one skipped."""
    with p.board("rollout", REGIONS) as b:
        b.start("us-east-1", note="creating")
        b.set("us-east-1", "in_progress", "CREATE_IN_PROGRESS")
        b.finish("us-east-1", Rollout.DONE, "3 outputs")
        b.start("eu-west-1")
        b.finish("eu-west-1", Rollout.FAILED, "AccessDenied")
        b.set("eu-west-1", Rollout.ROLLED_BACK)
        b.finish("ap-south-1", Rollout.SKIPPED, "tolerance exceeded")
    b.close()  # idempotent
    return b.frame()


def check_frame(df: pd.DataFrame) -> None:
    assert list(df.columns) == ["name", "state", "note", "started", "ended", "seconds"]
    assert df["name"].tolist() == REGIONS
    assert df["state"].tolist() == ["done", "rolled_back", "skipped"]
    assert all(type(s) is str for s in df["state"])  # plain strings, not the caller's enum
    assert df["note"].tolist() == ["3 outputs", "", "tolerance exceeded"]
    us = df.iloc[0]
    assert us["started"] <= us["ended"] and str(us["started"].tz) == "UTC"
    assert us["seconds"] >= 0
    skipped = df.iloc[2]  # never started: no clock
    assert pd.isna(skipped["started"]) and pd.isna(skipped["seconds"])


def test_plain_one_timestamped_line_per_change() -> None:
    out = io.StringIO()
    p = Progress(loud(), file=out, frontend="plain")
    check_frame(drive(p))
    text = out.getvalue()
    assert not ESC.search(text), repr(text)
    lines = text.splitlines()
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d ", ln) for ln in lines)
    # header + 7 changes + summary
    assert len(lines) == 9, lines
    assert "rollout (3 rows)" in lines[0]
    assert "us-east-1 in_progress" in lines[2] and "CREATE_IN_PROGRESS" in lines[2]
    assert "✓ us-east-1 done" in lines[3] and lines[3].endswith(": 3 outputs")
    assert "✗ eu-west-1 failed" in lines[5] and "AccessDenied" in lines[5]
    assert "! eu-west-1 rolled_back" in lines[6]
    assert "○ ap-south-1 skipped: tolerance exceeded" in lines[7]
    assert "1 done, 1 rolled_back, 1 skipped in" in lines[8]


def test_plain_skips_repeats() -> None:
    out = io.StringIO()
    p = Progress(loud(), file=out, frontend="plain")
    with p.board("b", ["a"]) as b:
        b.set("a", "waiting", "x")
        b.set("a", "waiting", "x")  # no change: no line
        b.set("a", "waiting", "y")  # the note changed: a line
    assert len(out.getvalue().splitlines()) == 4


def test_terminal_redraws_in_place() -> None:
    out = Tty()
    p = Progress(loud(), file=out)
    assert p.frontend == "tty"
    check_frame(drive(p))
    text = out.getvalue()
    assert UP3 in text  # cursor back up over the 3 rows to redraw them
    assert "\x1b[32m✓" in text and "\x1b[31m✗" in text  # coloured icons
    final = text.rsplit(UP3, 1)[1]  # the last drawing
    assert "us-east-1" in final and "rolled_back" in final and "tolerance exceeded" in final
    assert "1 done, 1 rolled_back, 1 skipped" in final
    out = Tty()
    drive(Progress(loud(progress_no_color=True), file=out))
    assert UP3 in out.getvalue() and "\x1b[3" not in out.getvalue()  # no colour, redrawn


def test_quiet_draws_nothing_but_keeps_the_frame() -> None:
    out = Tty()
    p = Progress(resolve_settings(progress_quiet=True), file=out)
    check_frame(drive(p))
    assert out.getvalue() == ""


def test_notebook_updates_one_table_and_leaves_static_html() -> None:
    from IPython.display import HTML

    outputs: list[Any] = []
    handles: list[Handle] = []

    def display(obj: Any, display_id: bool = True) -> Handle:
        handles.append(Handle(outputs, obj))
        return handles[-1]

    p = Progress(loud(), frontend="notebook", display=display)
    check_frame(drive(p))
    assert len(outputs) == 1 and handles[0].updates >= 7  # one output, updated in place
    final = outputs[0]
    assert isinstance(final, HTML)
    html = final.data
    assert html.count("<tr>") == 4  # header + one per region
    assert "us-east-1" in html and "3 outputs" in html and "tolerance exceeded" in html
    assert "#2e7d32" in html and "#ef6c00" in html  # done green, rolled back amber
    assert "1 done, 1 rolled_back, 1 skipped" in html


def test_styles_override_and_validation() -> None:
    outputs: list[Any] = []
    p = Progress(loud(), frontend="notebook",
                 display=lambda obj, display_id=True: Handle(outputs, obj))
    with p.board("b", ["a", "b"], initial="waiting", styles={"waiting": "busy"}) as b:
        assert b.style("waiting") == "busy" and b.style("done") == "ok"
        assert b.style("anything") == "dim"
    assert b.frame()["state"].tolist() == ["waiting", "waiting"]
    assert "#1565c0" in outputs[0].data
    with pytest.raises(UsageError, match="'greem'") as info:
        p.board("b", ["a"], styles={"done": "greem"})
    assert "ok, bad, warn, busy, dim" in info.value.suggestion
    with pytest.raises(UsageError, match="duplicate"):
        p.board("b", ["a", "a"])
    with pytest.raises(UsageError, match="no row names"):
        p.board("b", [])
    with pytest.raises(UsageError, match="string"):
        p.board("b", "us-east-1")
    with p.board("b", ["us-east-1"]) as b, pytest.raises(UsageError, match="'us-east-1'"):
        b.set("us-east-2", "running")


def test_rows_updated_from_many_threads() -> None:
    out = io.StringIO()
    p = Progress(loud(), file=out, frontend="plain")
    names = [f"r{i}" for i in range(40)]
    barrier = threading.Barrier(8)

    def work(name: str) -> None:
        if int(name[1:]) < 8:
            barrier.wait()  # the first eight collide on purpose
        b.start(name)
        b.set(name, "in_progress", name)
        b.finish(name, "done")

    with p.board("many", names) as b, ThreadPoolExecutor(8) as pool:
        list(pool.map(work, names))
    df = b.frame()
    assert (df["state"] == "done").all() and df["seconds"].notna().all()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 + 3 * len(names)  # every change is one whole line
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d many", ln) for ln in lines[1:-1])


def test_changes_after_close_are_kept_but_not_drawn() -> None:
    out = io.StringIO()
    p = Progress(loud(), file=out, frontend="plain")
    b = p.board("b", ["a"])
    b.close()
    n = len(out.getvalue())
    b.finish("a", "done")
    assert len(out.getvalue()) == n and b.frame()["state"].tolist() == ["done"]


def test_terminal_draws_afresh_below_other_output_and_fits_the_width() -> None:
    out = Tty()
    p = Progress(loud(), file=out)
    with p.board("b", ["a", "b"]) as b:
        b.start("a")
        p.error(ValueError("in between"))  # written below the table
        mark = len(out.getvalue())
        b.finish("a", "done", "x" * 500)
    after = out.getvalue()[mark:]
    assert not after.startswith("\x1b[F")  # not drawn over the error: drawn below it
    assert "\x1b[F\x1b[F" in after  # the next change redraws in place again
    widest = max(len(ESC_CODES.sub("", ln)) for ln in after.splitlines())
    assert widest < 120  # a StringIO has no size: the default width, minus one
