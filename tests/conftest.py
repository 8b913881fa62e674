"""Test guards and shared fixtures.

Autouse guards fail any test that
- tries to reach a non-loopback address (no internet, no real AWS, ever);
- leaves a thread, a child process or an open progress bar behind.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import netguard
import psutil
import pytest

if TYPE_CHECKING:  # imported where used: tests/test_guards.py reuses this file alone
    import browser
    import runbook_runs

# ---------------------------------------------------------------- environment
netguard.offline_aws_environment()
os.environ["GEUSE_PROGRESS_QUIET_MODE"] = "1"

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


# ---------------------------------------------------------------- network guard
netguard.install()


@pytest.fixture(autouse=True)
def network_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test loudly if it tried to leave loopback, even if the error was caught."""
    before = len(netguard.violations)
    yield
    tried = netguard.violations[before:]
    del netguard.violations[before:]
    if tried and not request.node.get_closest_marker("expect_network_violation"):
        pytest.fail(f"network guard: test tried to reach {tried}", pytrace=False)


# ---------------------------------------------------------------- leak guard
_GRACE_SECONDS = 3.0


def _progress_bars() -> set[object]:
    try:
        from tqdm import tqdm
    except ImportError:
        return set()
    return set(getattr(tqdm, "_instances", ()) or ())


def _session_long(proc: psutil.Process) -> bool:
    """The session's browser (tests/browser.py) and its renderers are meant to outlive a test."""
    pids: set[int] = getattr(sys.modules.get("browser"), "SESSION_PIDS", set())
    try:
        return bool(pids & {proc.pid, *(p.pid for p in proc.parents())})
    except psutil.NoSuchProcess:
        return True


@pytest.fixture(autouse=True)
def leak_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves threads, child processes or progress bars behind."""
    threads_before = set(threading.enumerate())
    me = psutil.Process()
    children_before = {p.pid for p in me.children(recursive=True)}
    bars_before = _progress_bars()
    yield
    if request.node.get_closest_marker("allow_leaks"):
        return
    deadline = time.monotonic() + _GRACE_SECONDS
    leaked_threads: list[threading.Thread] = []
    for thread in set(threading.enumerate()) - threads_before:
        thread.join(max(0.0, deadline - time.monotonic()))  # a closing thread may finish
        if thread.is_alive():
            leaked_threads.append(thread)
    leaked_children = []
    for proc in me.children(recursive=True):
        if proc.pid in children_before or _session_long(proc):
            continue
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except psutil.TimeoutExpired:
            leaked_children.append(proc)
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    bars = _progress_bars() - bars_before
    problems = []
    if leaked_threads:
        problems.append("threads " + ", ".join(sorted(t.name for t in leaked_threads)))
    if leaked_children:
        problems.append("child processes " + ", ".join(str(p.pid) for p in leaked_children))
    if bars:
        problems.append(f"{len(bars)} open progress bar(s)")
        for bar in bars:
            bar.close()
    if problems:
        pytest.fail("leak guard: test left " + "; ".join(problems), pytrace=False)


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # an xdist worker ignores SIGINT (Ctrl-C is the controller's); the Ctrl-C tests
        # interrupt their own process, so a worker takes it as Python does by default
        import signal

        signal.signal(signal.SIGINT, signal.default_int_handler)
    config.addinivalue_line("markers", "expect_network_violation: the test trips the guard")
    config.addinivalue_line("markers", "allow_leaks: skip the leak guard (session fixtures)")


# Fixtures whose tests are not for `make quick` (a browser, the wheel, the runbook run,
# JupyterLab); modules whose tests start kernels (papermill, nbval, IPython) or wait on
# the sandbox's clock or start processes (stacks provisioning for seconds, sandboxes,
# Dask clusters and pytester runs started and killed, pools pickled into processes):
# ~115 s of the ~215 s the unit tests cost at load 5. tests/reliability (faults, load,
# interrupts, properties) is left out of `make quick` by path.
HEAVY_FIXTURES = {"chrome", "wheel_env", "demo_run", "lab_server"}
HEAVY_MODULES = {"test_cli.py", "test_magics_kernel.py", "test_spot_notebook.py",
                 "test_demo.py", "test_bench_suite.py", "test_packaging.py",
                 "test_rollout_run.py", "test_sandbox.py", "test_lab_live.py",
                 "test_pool.py", "test_dask.py", "test_guards.py", "test_sandbox_cli.py",
                 "test_fanout_operations.py", "test_spot_history.py", "test_report_kit.py",
                 # a local Dask cluster (process starts); stacks' provisioning clocks
                 "test_accounts_dask.py", "test_rollout_sandbox.py", "test_expected_errors.py"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark what `make quick` leaves out. (Under `make test`'s `-n 4 --dist loadfile` a
    module's tests, and a notebook's cells, stay on one worker: module fixtures are built
    once, nbval's cells share a kernel.)"""
    for item in items:
        module = item.nodeid.split("::")[0]
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & HEAVY_FIXTURES or module.rsplit("/", 1)[-1] in HEAVY_MODULES:
            item.add_marker(pytest.mark.heavy)


# ---------------------------------------------------------------- shared fixtures
@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory: pytest.TempPathFactory,
                       monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own cache dir and starts with no configure() leftovers."""
    import geuse_nb as gn

    monkeypatch.setenv("GEUSE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    gn.reset_configuration()
    yield
    gn.reset_configuration()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[object]:
    """One embedded AWS for the session, with no latency; tests that change faults or
    latency start their own or restore what they changed."""
    from geuse_nb.sandbox import Sandbox

    with Sandbox(seed=7, rtt=0.0) as box:
        yield box


@pytest.fixture()
def kit(sandbox: object) -> Iterator[object]:
    """A Kit on the session sandbox with a fresh cache dir."""
    import geuse_nb as gn

    with gn.Kit("test", backend="sandbox", sandbox=sandbox) as k:
        yield k


@pytest.fixture()
def shared_data() -> Path:
    """The public reference data in ../shared/data; skips with a reason when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA} "
                    "(only the data-derivation tests need it)")
    return SHARED_DATA


# ---------------------------------------------------------------- the runbooks, run once
@pytest.fixture(scope="session")
def wheel_env(tmp_path_factory: pytest.TempPathFactory) -> runbook_runs.WheelEnv:
    """The built wheel installed in a fresh venv (tests/runbook_runs.py), once a session."""
    import runbook_runs

    root = runbook_runs.shared_root(tmp_path_factory.getbasetemp()) / "wheel"
    return runbook_runs.load_wheel_env(runbook_runs.once(root, runbook_runs.build_wheel_env))


@pytest.fixture(scope="session")
def demo_run(wheel_env: runbook_runs.WheelEnv,
             tmp_path_factory: pytest.TempPathFactory) -> runbook_runs.DemoRun:
    """The session's one `geuse-nb demo`: every runbook, from the wheel, in an empty
    directory, canary credentials in its environment; made by the first worker that
    asks, read by the other (tests/runbook_runs.py)."""
    import runbook_runs

    root = runbook_runs.shared_root(tmp_path_factory.getbasetemp()) / "demo"
    runbook_runs.once(root, lambda folder: runbook_runs.save_demo(wheel_env, folder))
    return runbook_runs.load_demo(root)


# ---------------------------------------------------------------- one browser
@pytest.fixture(scope="session")
def chrome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[browser.DevTools]:
    """The session's one headless chromium; each page check opens a tab in it."""
    import browser

    tools = browser.DevTools(tmp_path_factory.mktemp("chromium-profile"))
    yield tools
    tools.close()


# ---------------------------------------------------------------- figures from xdist workers
def pytest_sessionfinish(session: pytest.Session) -> None:
    """A worker hands the reliability suite's figures to the controller (xdist)."""
    figures = sys.modules.get("reliability_figures")
    output = getattr(session.config, "workeroutput", None)
    if figures is not None and output is not None:
        output["reliability_figures"] = dict(figures.FIGURES)


def _figures_module() -> object:
    sys.path.insert(0, str(Path(__file__).with_name("reliability")))
    import reliability_figures

    return reliability_figures


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """The controller adds up each worker's figures (sums, and maxima for times)."""
    got = getattr(node, "workeroutput", {}).get("reliability_figures", {})
    if got:
        figures: object = _figures_module()
        for name, value in got.items():
            figures.add_figure(name, value)  # type: ignore[attr-defined]


def pytest_terminal_summary(terminalreporter: object, config: pytest.Config) -> None:
    if getattr(config.option, "numprocesses", None) and "reliability_figures" in sys.modules:
        sys.modules["reliability_figures"].report(terminalreporter)
