"""Progress front ends: selection, what each writes, widgets leaving static records."""

from __future__ import annotations

import io
import os
import re
import sys
import textwrap
from typing import Any

import pytest

from geuse_nb.config import resolve_settings
from geuse_nb.errors import AwsCallError, UsageError
from geuse_nb.observe.progress import Progress, choose_frontend, describe_error

ESC = re.compile(r"[\x1b\r]")


class Tty(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def loud(**kw: Any):
    return resolve_settings(**{"progress_quiet": False, "progress_no_color": False, **kw})


def run_all(p: Progress) -> None:
    """Exercise every kind of progress once, including failures."""
    for _ in p.bar(range(30), desc="items"):
        pass
    with p.spinner("making"):
        pass
    with pytest.raises(AwsCallError), p.steps("deploy", ["vpc", "sg", "lb"]) as st:
        with st.step("vpc"):
            pass
        with st.step("sg"):
            raise AwsCallError("nope", service="ec2", operation="create_security_group",
                               region="us-east-1", error_code="AccessDenied",
                               suggestion="check IAM permissions")
    with p.status("jobs", 4) as js:
        js.update(running=2)
        js.update(done=3, failed=1, running=0)


# ---------------------------------------------------------------- selection
def test_selection_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    s = loud()
    assert choose_frontend(s, None, kernel=lambda: True) == "notebook"
    assert choose_frontend(s, Tty(), kernel=lambda: True) == "tty"  # explicit file: text
    assert choose_frontend(s, Tty(), kernel=lambda: False) == "tty"
    assert choose_frontend(s, io.StringIO(), kernel=lambda: False) == "plain"
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert choose_frontend(s, None, kernel=lambda: False) == "plain"  # CI / pipe
    quiet = resolve_settings(progress_quiet=True)
    assert choose_frontend(quiet, Tty(), kernel=lambda: True) == "quiet"
    assert choose_frontend(quiet, Tty(), frontend="tty") == "quiet"  # quiet always wins
    assert choose_frontend(s, io.StringIO(), frontend="tty") == "tty"
    with pytest.raises(UsageError, match="'fancy'"):
        choose_frontend(s, None, frontend="fancy")


def test_not_a_kernel_here() -> None:
    from geuse_nb.observe.progress import in_notebook_kernel

    assert in_notebook_kernel() is False


# ---------------------------------------------------------------- text front ends
def test_plain_has_timestamps_and_no_control_codes() -> None:
    out = io.StringIO()
    p = Progress(loud(), file=out, kernel=lambda: False)
    assert p.frontend == "plain"
    run_all(p)
    text = out.getvalue()
    assert not ESC.search(text), repr(text)
    lines = text.splitlines()
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d ", ln) for ln in lines)
    assert any("items: 100% 30/30" in ln and ln.endswith("done") for ln in lines)
    assert any("✓ making" in ln for ln in lines)
    assert any("✗ sg" in ln and "AccessDenied" in ln for ln in lines)
    assert any("✗ deploy: 1/3 done, 1 failed, 1 pending" in ln for ln in lines)
    assert any("→ check IAM permissions" in ln for ln in lines)  # error shown w/ suggestion
    assert any("done 3 · failed 1 · running 0" in ln for ln in lines)


def test_plain_is_not_chatty() -> None:
    out = io.StringIO()
    p = Progress(loud(), file=out, frontend="plain")
    for _ in p.bar(range(10_000), desc="fast"):
        pass
    assert len(out.getvalue().splitlines()) == 2  # start and end only for a fast loop
    out = io.StringIO()
    p = Progress(loud(), file=out, frontend="plain")
    with p.bar(total=100, desc="stepped", mininterval=0) as b:
        for _ in range(100):
            b.update(1)
    lines = out.getvalue().splitlines()
    assert 10 <= len(lines) <= 12  # start, one per 10 %, end


def test_tty_colour_and_no_colour() -> None:
    out = Tty()
    p = Progress(loud(), file=out)
    assert p.frontend == "tty" and p.colour
    run_all(p)
    assert "\x1b[32m" in out.getvalue() and "\x1b[31m" in out.getvalue()
    out = Tty()
    p = Progress(loud(progress_no_color=True), file=out)
    run_all(p)
    assert "\x1b[3" not in out.getvalue()  # no colour codes (carriage returns are fine)
    assert "✓ making" in out.getvalue()


def test_no_color_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("GEUSE_PROGRESS_QUIET_MODE", "0")
    out = Tty()
    p = Progress(resolve_settings(), file=out)
    run_all(p)
    assert p.frontend == "tty" and not p.colour
    assert "\x1b[3" not in out.getvalue()


def test_quiet_writes_nothing_but_still_counts() -> None:
    out = Tty()
    p = Progress(resolve_settings(progress_quiet=True), file=out)
    run_all(p)
    assert out.getvalue() == ""
    assert list(p.bar([1, 2, 3])) == [1, 2, 3]
    with p.steps("t", ["a"]) as st:
        st.start("a")
        st.done("a")
    assert st.steps["a"].state == "done" and st.steps["a"].seconds is not None


def test_steps_api_and_bad_names() -> None:
    p = Progress(loud(), file=io.StringIO(), frontend="plain")
    with p.steps("rollout", ["vpc", "sg"]) as st:
        st.start("vpc")
        st.fail("vpc", RuntimeError("x"))
        st.done("sg")
        with pytest.raises(UsageError, match="'nat'"):
            st.start("nat")
    df = st.frame()
    assert df["state"].tolist() == ["failed", "done"]
    assert df.loc[0, "error"] == "RuntimeError: x"
    with pytest.raises(UsageError, match="duplicate"):
        p.steps("x", ["a", "a"])
    with pytest.raises(UsageError, match="no step names"):
        p.steps("x", [])


def test_error_verbose_detail() -> None:
    try:
        raise AwsCallError("slow down", service="ec2", operation="describe_instances",
                           region="eu-west-1", error_code="Throttling",
                           suggestion="lower parallel_max_workers")
    except AwsCallError as exc:
        err = exc
    info = describe_error(err)
    assert info["suggestion"] == "lower parallel_max_workers"
    assert "eu-west-1" in info["message"] and info["detail"] == ""
    out = io.StringIO()
    Progress(loud(progress_verbose_errors=True), file=out, frontend="plain").error(err)
    assert "Traceback" in out.getvalue() and "→ lower parallel_max_workers" in out.getvalue()
    out = io.StringIO()
    Progress(loud(), file=out, frontend="plain").error(ValueError("plain error"))
    assert "ValueError: plain error" in out.getvalue() and "Traceback" not in out.getvalue()


def test_bars_closed_after_with_and_iteration() -> None:
    from tqdm import tqdm

    out = Tty()
    p = Progress(loud(), file=out)
    before = set(tqdm._instances)
    for _ in p.bar(range(5)):
        pass
    with p.bar(total=3) as b:
        b.update(3)
    with pytest.raises(RuntimeError), p.status("s", 2):
        raise RuntimeError("x")
    assert set(tqdm._instances) - before == set()


# ---------------------------------------------------------------- notebook widgets
class Handle:
    """What IPython's display handle does: records updates of one output."""

    def __init__(self, outputs: list[Any], obj: Any):
        self.outputs = outputs
        self.index = len(outputs)
        outputs.append(obj)

    def update(self, obj: Any) -> None:
        self.outputs[self.index] = obj


def test_widget_path_leaves_static_html() -> None:
    import ipywidgets

    outputs: list[Any] = []
    p = Progress(loud(), frontend="notebook",
                 display=lambda obj, display_id=True: Handle(outputs, obj))
    bar = p.bar(range(4), desc="regions")
    assert isinstance(outputs[0], ipywidgets.Widget)  # live widget while running
    assert list(bar) == [0, 1, 2, 3]
    with p.status("jobs", 2) as js:
        js.update(done=1, failed=1)
    with p.spinner("stack"):
        pass
    with p.steps("deploy", ["a"]) as st, st.step("a"):
        pass
    p.error(UsageError("bad input", suggestion="try again"))
    assert len(outputs) == 5
    assert not any(isinstance(o, ipywidgets.Widget) for o in outputs)  # all static now
    html = [o.data for o in outputs]
    assert "regions" in html[0] and "4/4" in html[0]
    assert "failed 1" in html[1] and "#c62828" in html[1]  # failed jobs: red bar
    assert "✓" in html[2] and "stack" in html[2]
    assert "deploy" in html[3] and "1/1 done" in html[3]
    assert "bad input" in html[4] and "try again" in html[4]


@pytest.mark.timeout(60)
def test_real_kernel_chooses_notebook_and_leaves_static_record() -> None:
    """One real ipykernel: the frontend is 'notebook' and the output ends as static HTML."""
    from jupyter_client import KernelManager

    km = KernelManager(kernel_name="python3")  # ipykernel's native spec: this interpreter
    km.start_kernel(env={**os.environ, "GEUSE_PROGRESS_QUIET_MODE": "0"})
    kc = km.client()
    try:
        kc.start_channels()
        kc.wait_for_ready(timeout=30)
        code = textwrap.dedent("""
            from geuse_nb.config import resolve_settings
            from geuse_nb.observe.progress import Progress
            p = Progress(resolve_settings())
            print("FRONTEND", p.frontend)
            for _ in p.bar(range(3), desc="kernel-bar"):
                pass
            with p.spinner("kernel-spin"):
                pass
            with p.board("kernel-board", ["us-east-1", "eu-west-1"]) as b:
                b.start("us-east-1")
                b.finish("us-east-1", "done", "kernel-note")
        """)
        outputs: list[dict[str, Any]] = []
        reply = kc.execute_interactive(code, timeout=30,
                                       output_hook=lambda m: outputs.append(m))
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    text = "".join(m["content"].get("text", "") for m in outputs
                   if m["msg_type"] == "stream")
    assert "FRONTEND notebook" in text
    widgets = [m for m in outputs if "application/vnd.jupyter.widget-view+json"
               in m["content"].get("data", {})]
    assert widgets, "the live bar should be a widget"
    updates = [m["content"]["data"].get("text/html", "") for m in outputs
               if m["msg_type"] == "update_display_data"]
    assert any("kernel-bar" in u and "3/3" in u for u in updates), updates
    assert any("kernel-spin" in u and "✓" in u for u in updates), updates
    boards = [u for u in updates if "kernel-board" in u]
    assert boards and "kernel-note" in boards[-1] and "<table" in boards[-1], updates
