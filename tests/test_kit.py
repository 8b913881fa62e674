"""The Kit: lifecycle, default kit, backend choice, cancellation, module-level shortcuts."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

import geuse_nb as gn


def test_close_is_idempotent_and_context_manager_closes(sandbox: Any) -> None:
    with gn.Kit("life", backend="sandbox", sandbox=sandbox) as kit:
        assert repr(kit) == "<geuse_nb.Kit 'life' sandbox>"
    assert kit.closed and repr(kit) == "<geuse_nb.Kit 'life' closed>"
    kit.close()  # again: nothing happens
    assert sandbox.running  # a kit never stops a sandbox it did not start


def test_kit_started_sandbox_stops_with_it() -> None:
    kit = gn.Kit("own", backend="sandbox", sandbox_seed=3)
    try:
        box = kit.sandbox
        assert box is not None and box.running
        assert kit.call("sts", "get_caller_identity")["Account"] == "123456789012"
    finally:
        kit.close()
    assert not box.running


def test_init_replaces_and_closes_the_default(sandbox: Any) -> None:
    first = gn.init("one", backend="sandbox", sandbox=sandbox)
    try:
        assert gn.get_kit() is first
        assert gn.call("sts", "get_caller_identity")["Account"] == "123456789012"
        second = gn.init("two", backend="sandbox", sandbox=sandbox)
        assert first.closed and gn.get_kit() is second
    finally:
        gn.get_kit().close()


def test_auto_backend_without_credentials_is_the_sandbox(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        sandbox: Any) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("GEUSE_SANDBOX_URL", sandbox.url)  # join the session's sandbox
    with caplog.at_level(logging.INFO, logger="geuse_nb"), gn.Kit("auto", backend="auto") as kit:
        assert kit.backend.kind == "sandbox" and kit.backend.sandbox_url == sandbox.url
    assert "backend 'auto' chose 'sandbox' (no AWS credentials found)" in caplog.text


def test_auto_backend_with_credentials_is_aws(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="geuse_nb"), gn.Kit("auto", backend="auto") as kit:
        assert kit.backend.kind == "aws" and kit.sandbox is None  # nothing was called
    assert "chose 'aws'" in caplog.text


def test_kit_cancel_stops_a_running_map(kit: Any) -> None:
    started = threading.Event()

    def slow(i: int) -> int:
        started.set()
        time.sleep(0.3)  # the work being cancelled, not a wait for the test to pass
        return i

    threading.Timer(0.5, kit.cancel).start()
    began = time.monotonic()
    results = kit.pmap(slow, range(100), n_jobs=4)
    assert time.monotonic() - began < 2.0
    assert results.cancelled and started.is_set()
    assert results.values and all(results[k] == k for k in results.values)  # kept, in place
    assert set(results.statuses.values()) == {"done", "cancelled"}


def test_bad_kit_name_is_a_clear_error() -> None:
    with pytest.raises(gn.UsageError, match="kit name ''"):
        gn.Kit("")


def test_a_sandbox_kit_never_falls_through_to_aws(kit: Any) -> None:
    """A region the sandbox does not serve is refused before any client exists."""
    with pytest.raises(gn.UsageError, match="'af-south-1' is not served by the sandbox"):
        kit.client("ec2", "af-south-1")
    with pytest.raises(gn.UsageError, match="did you mean 'us-east-2', 'us-east-1'"):
        kit.client("ec2", "us-east-9")


def test_the_region_checks_raise_one_error(kit: Any) -> None:
    """The pool, the backend and the sandbox itself refuse a region with the same error:
    a UsageError naming the region, the closest served ones and where the list is."""
    from geuse_nb.sandbox.regions import check_region

    refusals = [lambda: kit.pool.check_region("eu-wset-1"),
                lambda: kit.backend.endpoint_url("eu-wset-1"),
                lambda: kit.sandbox.set_faults(region="eu-wset-1"),
                lambda: check_region("eu-wset-1", kit.sandbox.regions)]
    for refuse in refusals:
        with pytest.raises(gn.UsageError) as info:
            refuse()
        error = info.value
        assert "'eu-wset-1'" in str(error) and "'eu-west-1'" in str(error)
        assert "kit.sandbox.regions" in error.suggestion
        assert not isinstance(error, gn.SandboxError)


def test_fanout_over_all_regions_of_the_sandbox(kit: Any) -> None:
    frame = kit.fanout("ec2", "describe_availability_zones", "all", desc="all zones")
    assert frame.attrs["failed"] == []
    assert sorted(frame["region"].unique()) == sorted(kit.sandbox.regions)


def test_call_with_frame_true_is_records(kit: Any) -> None:
    frame = kit.call("ec2", "describe_availability_zones", "eu-west-2", frame=True)
    assert list(frame["region"].unique()) == ["eu-west-2"]
    assert sorted(frame["ZoneName"]) == sorted(
        z["ZoneName"] for z in kit.call("ec2", "describe_availability_zones", "eu-west-2")[
            "AvailabilityZones"])


def test_a_closed_dropped_kit_is_freed(sandbox: Any) -> None:
    """The per-process registry holds kits the user made weakly: nothing leaks memory."""
    import gc
    import weakref

    kit = gn.Kit("dropped", backend="sandbox", sandbox=sandbox)
    kit.close()
    ref = weakref.ref(kit)
    del kit
    gc.collect()
    assert ref() is None


def test_aws_kit_defaults_to_the_configured_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    with gn.Kit("regional", backend="aws") as kit:  # builds nothing that calls AWS
        assert kit.backend.default_region == "eu-west-2"


def test_shortcuts_work_again_and_again(sandbox: Any) -> None:
    """`gn.fanout` and `gn.report` once rebound to submodules after their first call."""
    kit = gn.init("twice", backend="sandbox", sandbox=sandbox)
    try:
        for _ in range(2):
            frame = gn.fanout("ec2", "describe_availability_zones", ["us-east-1", "eu-west-1"])
            assert sorted(frame["region"].unique()) == ["eu-west-1", "us-east-1"]
            assert isinstance(gn.report("twice"), gn.Report)
        assert gn.get_kit() is kit and callable(gn.fanout) and callable(gn.report)
    finally:
        kit.close()


def test_no_package_attribute_is_both_a_submodule_and_a_function() -> None:
    """After every submodule is imported, each public function of the package is still
    itself, and no submodule shares a name with one."""
    import importlib
    import pkgutil
    import types

    shortcuts = {name: getattr(gn, name) for name in gn.__all__
                 if isinstance(getattr(gn, name), types.FunctionType)}
    assert {"call", "fanout", "report", "cached", "pmap"} <= set(shortcuts)
    submodules = {m.name for m in pkgutil.iter_modules(gn.__path__)}
    for info in pkgutil.walk_packages(gn.__path__, "geuse_nb."):
        importlib.import_module(info.name)
    assert not submodules & set(shortcuts), submodules & set(shortcuts)
    for name, fn in shortcuts.items():
        assert getattr(gn, name) is fn, f"gn.{name} was rebound to {getattr(gn, name)!r}"


def test_returned_types_are_exported_lazily() -> None:
    """`gn.JobResults` & co. are the classes the kit returns, and importing the package
    loads none of their heavy modules (checked in a fresh interpreter)."""
    import subprocess
    import sys

    from geuse_nb.engine.results import JobResults
    from geuse_nb.sandbox import Sandbox

    assert gn.JobResults is JobResults and gn.Sandbox is Sandbox
    assert {"ClientPool", "JobResults", "Recorder", "Report", "Sandbox",
            "TieredCache"} <= set(gn.__all__) & set(dir(gn))
    code = ("import sys, geuse_nb; print(sorted(m for m in ('pandas', 'boto3', 'joblib', "
            "'geuse_nb.engine.results', 'geuse_nb.observe.report') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        gn.Nope  # noqa: B018
