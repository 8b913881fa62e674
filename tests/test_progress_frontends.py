"""Front ends as classes: the registry, a front end defined here alone, and the rule that
nothing outside the choice branches on a front end's name."""

from __future__ import annotations

import ast
import io
import pathlib
from collections.abc import Iterable
from typing import Any

import pytest

import geuse_nb.observe.progress as progress_pkg
from geuse_nb.config import resolve_settings
from geuse_nb.errors import AwsCallError, UsageError
from geuse_nb.observe.progress import (
    BUILTIN,
    Bar,
    Board,
    BoardRow,
    FrontEnd,
    MapStatus,
    Progress,
    Renderer,
    Spinner,
    choose_frontend,
    frontend_names,
    register_frontend,
    unregister_frontend,
)


def loud(**kw: Any) -> Any:
    return resolve_settings(**{"progress_quiet": False, "progress_no_color": False, **kw})


# ---------------------------------------------------------------- a front end of our own
class RecordingBar(Bar):
    """Counts like any bar and records what it was told."""

    def __init__(self, events: list[tuple[Any, ...]], *args: Any) -> None:
        super().__init__(*args)
        self.events = events
        events.append(("bar", self.desc, self.total))

    def update(self, n: float = 1) -> None:
        super().update(n)
        self.events.append(("bar.update", self.desc, self.n, self.postfix))

    def close(self) -> None:
        if not self.closed:
            self.events.append(("bar.close", self.desc, self.n, self.failed))
        super().close()


class RecordingRenderer(Renderer):
    """Draws nothing; writes down every hook call (a log, a web hook, a GUI could be here)."""

    def __init__(self, settings: Any, **kw: Any) -> None:
        super().__init__(settings, **kw)
        self.events: list[tuple[Any, ...]] = []

    def bar(self, iterable: Iterable[Any] | None, desc: str | None, total: float | None,
            **kw: Any) -> Any:
        return RecordingBar(self.events, iterable, desc, total)

    def spinner_start(self, spinner: Spinner) -> Any:
        self.events.append(("spin", spinner.msg))
        return len(self.events)

    def spinner_end(self, spinner: Spinner, token: Any) -> None:
        self.events.append(("spin.end", token, spinner.style.value, spinner.text))

    def panel_open(self, panel: Board) -> Any:
        self.events.append(("open", panel.kind, panel.title, list(panel.rows)))
        return panel.title

    def panel_change(self, panel: Board, token: Any, row: BoardRow) -> None:
        self.events.append(("change", token, row.name, row.state, row.note))

    def panel_close(self, panel: Board, token: Any) -> None:
        self.events.append(("close", token, panel.outcome.value, panel.summary()))

    def show_error(self, info: dict[str, str]) -> None:
        self.events.append(("error", info["title"], info["suggestion"]))


@pytest.fixture()
def recording() -> Any:
    register_frontend("recording", RecordingRenderer)
    yield "recording"
    unregister_frontend("recording")


def test_a_registered_front_end_draws_everything(recording: str) -> None:
    p = Progress(loud(), frontend=recording)
    assert p.frontend == "recording" and isinstance(p.renderer, RecordingRenderer)
    events = p.renderer.events
    assert list(p.bar(range(3), desc="items")) == [0, 1, 2]
    with p.status("jobs", 2) as st:
        st.update(running=2)
        st.update(done=1, failed=1, running=0)
    assert isinstance(st, MapStatus)
    with p.spinner("stack"):
        pass
    with pytest.raises(AwsCallError), p.steps("deploy", ["vpc", "sg"]) as steps:
        steps.done("vpc")
        with steps.step("sg"):
            raise AwsCallError("no", service="ec2", operation="x", region="us-east-1",
                               error_code="AccessDenied", suggestion="check IAM")
    with p.board("rollout", ["us-east-1", "eu-west-1"]) as b:
        b.start("us-east-1")
        b.finish("us-east-1", "done", "ok")
        b.finish("eu-west-1", "skipped")
    kinds = [e[0] for e in events]
    assert events[0] == ("bar", "items", None)
    assert kinds.count("bar.update") == 4  # 3 items, then the status line jumps by 2
    assert ("bar.close", "items", 3, False) in events
    assert ("bar.close", "jobs", 2, True) in events  # a failed job marks the bar failed
    assert any(e[0] == "bar.update" and "failed 1" in e[3] for e in events)
    spin_end = next(e for e in events if e[0] == "spin.end")
    assert spin_end[2] == "ok" and spin_end[3].startswith("stack (")
    assert ("open", "steps", "deploy", ["vpc", "sg"]) in events
    assert ("change", "deploy", "sg", "running", "") in events
    closes = [e for e in events if e[0] == "close"]
    assert closes[0][:3] == ("close", "deploy", "bad") and "1/2 done, 1 failed" in closes[0][3]
    assert ("error", "AwsCallError", "check IAM") in events  # shown once, via the hook
    assert kinds.count("error") == 1
    assert ("open", "board", "rollout", ["us-east-1", "eu-west-1"]) in events
    assert ("change", "rollout", "us-east-1", "done", "ok") in events
    assert closes[1][:3] == ("close", "rollout", "ok")
    assert frontend_names()[:4] == ["notebook", "tty", "plain", "quiet"]
    assert "recording" in frontend_names()


def test_quiet_still_wins_over_a_registered_front_end(recording: str) -> None:
    p = Progress(resolve_settings(progress_quiet=True), frontend=recording)
    assert p.frontend == FrontEnd.QUIET


def test_registry_refuses_bad_registrations(recording: str) -> None:
    with pytest.raises(UsageError, match="built-in"):
        register_frontend("tty", RecordingRenderer)
    with pytest.raises(UsageError, match="Renderer subclass"):
        register_frontend("mine", dict)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="non-empty"):
        register_frontend(" ", RecordingRenderer)
    with pytest.raises(UsageError, match="built-in"):
        unregister_frontend("plain")
    with pytest.raises(UsageError, match="did you mean 'recording'") as info:
        Progress(loud(), frontend="recordin")
    assert "register_frontend" in info.value.suggestion


def test_a_renderer_must_implement_every_hook() -> None:
    class Half(Renderer):
        def bar(self, iterable: Any, desc: Any, total: Any, **kw: Any) -> Any:
            return Bar(iterable, desc, total)

    with pytest.raises(TypeError, match="abstract"):
        Half(loud())  # type: ignore[abstract]


# ---------------------------------------------------------------- the built-in table
def test_front_end_names_are_one_table() -> None:
    assert set(BUILTIN) == set(FrontEnd)
    assert all(issubclass(cls, Renderer) for cls in BUILTIN.values())
    assert len(set(BUILTIN.values())) == len(FrontEnd)  # one class per front end
    p = Progress(loud(), file=io.StringIO(), frontend=FrontEnd.PLAIN)
    assert p.frontend is FrontEnd.PLAIN and p.frontend == "plain"
    assert type(p.renderer) is BUILTIN[FrontEnd.PLAIN]
    assert choose_frontend(loud(), io.StringIO(), frontend="quiet") is FrontEnd.QUIET


def test_nothing_outside_the_choice_branches_on_a_front_end() -> None:
    """No comparison against a front-end name anywhere in the package but the chooser
    (the view classes and Progress call hooks; they never ask which front end is live)."""
    names = {f.value for f in FrontEnd}
    members = {f.name for f in FrontEnd}
    offenders = []
    root = pathlib.Path(progress_pkg.__file__).parent
    for path in sorted(root.glob("*.py")):
        if path.name == "_registry.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Compare):
                continue
            for part in [node.left, *node.comparators]:
                for sub in ast.walk(part):
                    if (isinstance(sub, ast.Constant) and sub.value in names) or (
                            isinstance(sub, ast.Attribute) and sub.attr in members):
                        offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_status_class_is_map_status_not_the_job_state_enum() -> None:
    from geuse_nb.states import JobStatus

    assert not hasattr(progress_pkg, "JobStatus")  # one JobStatus: the job-state enum
    assert issubclass(JobStatus, str)
    p = Progress(resolve_settings(progress_quiet=True))
    with p.status("m", 3) as st:
        st.update(done=2, cancelled=1)
    assert type(st) is MapStatus and st.text().startswith("done 2 · failed 0")


def test_no_module_level_shortcuts() -> None:
    for name in ("bar", "spinner", "steps", "status", "error", "_default"):
        assert not hasattr(progress_pkg, name), name
