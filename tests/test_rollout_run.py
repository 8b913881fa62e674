"""Rollout runs on the sandbox: dry run, apply, tolerance, strict/soft, waves, gates,
rollback, reruns, Ctrl-C and bad input, with sandbox counters as the proof of "no write"."""

from __future__ import annotations

import _thread
import itertools
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from geuse_nb.errors import AwsCallError, UsageError
from geuse_nb.ops import rollout
from geuse_nb.ops.rollout import RegionState

REGIONS = ["us-east-1", "eu-west-1", "us-west-2", "ap-southeast-1", "eu-central-1",
           "ap-northeast-1"]
READS = {"ValidateTemplate", "DescribeStacks", "GetTemplate"}


@pytest.fixture()
def box(sandbox: Any) -> Iterator[Any]:
    """The session sandbox with stacks back to instant, counters zeroed."""
    sandbox.set_stacks()
    sandbox.reset_counters()
    yield sandbox
    sandbox.set_stacks()


@pytest.fixture()
def name() -> str:
    return "t-" + uuid.uuid4().hex[:10]


def _operations(box: Any) -> set[str]:
    frame = box.counters_frame()
    return set(frame.loc[frame["service"] == "cloudformation", "operation"])


def _status(kit: Any, region: str, stack: str) -> str | None:
    try:
        found = kit.call("cloudformation", "describe_stacks", region, refresh=True,
                         StackName=stack)
    except AwsCallError:
        return None
    return str(found["Stacks"][0]["StackStatus"])


def _peak_overlap(result: rollout.RolloutResult) -> int:
    """The most regions in flight at once, from the result's own start/end times."""
    events = []
    for out in result.outcomes:
        if out.started is not None and out.ended is not None:
            events += [(out.started, 1), (out.ended, -1)]
    peak = now = 0
    for _, step in sorted(events, key=lambda e: (e[0], e[1])):
        now += step
        peak = max(peak, now)
    return peak


def test_dry_run_makes_no_write_and_says_create_update_or_nothing(kit: Any, box: Any,
                                                                   name: str) -> None:
    tpl = rollout.template_path()
    body = tpl.read_text()
    kit.call("cloudformation", "create_stack", "eu-west-1", StackName=name, TemplateBody=body)
    kit.call("cloudformation", "create_stack", "us-west-2", StackName=name, TemplateBody=body,
             Parameters=[{"ParameterKey": "Environment", "ParameterValue": "prod"}])
    box.reset_counters()
    result = rollout.run(kit, rollout.plan(REGIONS[:3]), tpl, stack_name=name)
    assert not result.applied
    assert [o.status for o in result.outcomes] == [
        RegionState.WOULD_CREATE, RegionState.NO_CHANGES, RegionState.WOULD_UPDATE]
    assert "Environment: 'prod' → 'dev'" in result["us-west-2"].note
    assert _operations(box) <= READS  # the counters prove it: reads only
    assert "ValidateTemplate" in _operations(box)
    assert _status(kit, "us-east-1", name) is None


def test_apply_creates_records_outputs_and_a_rerun_writes_nothing(kit: Any, box: Any,
                                                                  name: str) -> None:
    box.set_stacks(provision_seconds=0.3)
    plan = rollout.plan(REGIONS[:3], max_concurrent=3, mode="soft")
    result = rollout.run(kit, plan, rollout.template_path(), stack_name=name, apply=True)
    assert result.ok, result.frame()
    assert result.counts == {"done": 3}
    for out in result.outcomes:
        assert out.stack_id and out.stack_id.startswith(f"arn:aws:cloudformation:{out.region}")
        assert set(out.outputs) == {"VpcId", "SubnetId", "SecurityGroupId"}
        assert out.outputs["VpcId"].startswith("vpc-")
        assert out.seconds is not None and out.seconds >= 0.3  # it waited for provisioning
    frame = result.frame()
    assert {"region", "wave", "status", "started", "ended", "seconds", "stack_id", "outputs",
            "error", "suggestion"} <= set(frame.columns)
    rows = [r for r in kit.metrics.rows("jobs") if r["map"] == f"rollout {name}"]
    assert len(rows) == 3 and {r["key"] for r in rows} == set(REGIONS[:3])
    assert all(r["wave"] == 1 and r["stack_id"] and r["outputs"] for r in rows)

    box.reset_counters()
    again = rollout.run(kit, plan, rollout.template_path(), stack_name=name, apply=True)
    assert again.counts == {"no_changes": 3}
    assert _operations(box) <= READS  # no write on a rerun with nothing changed


def test_update_when_parameters_change(kit: Any, box: Any, name: str) -> None:
    plan = rollout.plan(REGIONS[:2], max_concurrent=2)
    rollout.run(kit, plan, rollout.template_path(), stack_name=name, apply=True)
    box.reset_counters()
    result = rollout.run(kit, plan, rollout.template_path(), stack_name=name, apply=True,
                         parameters={"Environment": "staging"})
    assert result.counts == {"done": 2}
    assert all(o.action == rollout.Action.UPDATE for o in result.outcomes)
    assert "UpdateStack" in _operations(box)
    assert "CreateStack" not in _operations(box)


def test_tolerance_exceeded_skips_later_regions_and_in_flight_ones_finish(
        kit: Any, box: Any, name: str) -> None:
    box.set_stacks(provision_seconds=1.2)  # the second region is still in flight ...
    box.set_stacks(REGIONS[0], provision_seconds=0.2, fail=True)  # ... when the first fails
    plan = rollout.plan(REGIONS[:5], max_concurrent=2, failure_tolerance=0, mode="soft")
    result = rollout.run(kit, plan, rollout.template_path(), stack_name=name, apply=True)
    statuses = [o.status for o in result.outcomes]
    assert statuses == [RegionState.FAILED, RegionState.DONE, RegionState.SKIPPED,
                        RegionState.SKIPPED, RegionState.SKIPPED]
    failed, flying = result.outcomes[0], result.outcomes[1]
    assert "ROLLBACK_COMPLETE" in (failed.error or "") and failed.suggestion
    assert flying.ended is not None and failed.ended is not None
    assert flying.ended > failed.ended  # it finished after the tolerance was exceeded
    assert "tolerance exceeded" in (result.stopped or "")
    assert all(_status(kit, r, name) is None for r in REGIONS[2:5])  # never started


def test_strict_with_tolerance_one_runs_two_at_a_time_soft_runs_max(kit: Any, box: Any,
                                                                      name: str) -> None:
    box.set_stacks(provision_seconds=0.4)
    strict = rollout.plan(REGIONS, max_concurrent=8, failure_tolerance=1)
    result = rollout.run(kit, strict, rollout.template_path(), stack_name=name, apply=True)
    assert result.counts == {"done": 6}
    assert result.peak_concurrency == {1: 2}
    assert _peak_overlap(result) == 2

    soft = rollout.plan(REGIONS, max_concurrent=3, failure_tolerance=1, mode="soft")
    result = rollout.run(kit, soft, rollout.template_path(), stack_name=name + "-s",
                         apply=True)
    assert result.peak_concurrency == {1: 3}
    assert _peak_overlap(result) == 3


def test_strict_lowers_concurrency_after_a_failure(kit: Any, box: Any, name: str) -> None:
    box.set_stacks(provision_seconds=0.4)
    box.set_stacks(REGIONS[0], provision_seconds=0.1, fail=True)
    plan = rollout.plan(REGIONS[:5], max_concurrent=4, failure_tolerance=1)  # starts at 2
    result = rollout.run(kit, plan, rollout.template_path(), stack_name=name, apply=True)
    assert result.counts == {"failed": 1, "done": 4}
    assert result.outcomes[0].ended is not None
    after = [o for o in result.outcomes[2:] if o.started and o.started > result.outcomes[0].ended]
    # once one failure is in, at most one region runs at a time
    for a, b in itertools.pairwise(after):
        assert a.ended is not None and b.started is not None and b.started >= a.ended


def test_gate_stops_the_next_wave_and_sees_only_its_wave(kit: Any, box: Any,
                                                         name: str) -> None:
    seen: list[list[str]] = []

    def gate(wave: rollout.RolloutResult) -> bool:
        seen.append(wave.regions())
        return False

    plan = rollout.plan(REGIONS[:3], waves=[[REGIONS[0]], REGIONS[1:3]])
    result = rollout.run(kit, plan, rollout.template_path(), stack_name=name, apply=True,
                         gate=gate)
    assert seen == [[REGIONS[0]]]
    assert [o.status for o in result.outcomes] == [RegionState.DONE, RegionState.SKIPPED,
                                                    RegionState.SKIPPED]
    assert "gate" in (result.stopped or "")


def test_waves_run_in_order_after_the_bake_time(kit: Any, box: Any, name: str) -> None:
    plan = rollout.plan(REGIONS[:3], waves=2, max_concurrent=2)
    result = rollout.run(kit, plan, rollout.template_path(), stack_name=name, apply=True,
                         gate=lambda wave: wave.ok, bake_seconds=0.3)
    assert result.counts == {"done": 3}
    first, later = result.outcomes[0], result.outcomes[1:]
    assert first.wave == 1 and all(o.wave == 2 for o in later)
    assert first.ended is not None
    assert all(o.started is not None and o.started >= first.ended + 0.3 for o in later)


def test_rollback_deletes_only_the_stacks_this_run_created(kit: Any, box: Any,
                                                          name: str) -> None:
    body = rollout.template_path().read_text()
    kit.call("cloudformation", "create_stack", REGIONS[1], StackName=name, TemplateBody=body)
    box.set_stacks(provision_seconds=0.2)
    box.set_stacks(REGIONS[3], provision_seconds=0.2, fail=True)
    plan = rollout.plan(REGIONS[:4], max_concurrent=1, failure_tolerance=0)
    result = rollout.run(kit, plan, rollout.template_path(), stack_name=name, apply=True,
                         on_failure="rollback")
    assert result.rolled_back
    assert [o.status for o in result.outcomes] == [
        RegionState.ROLLED_BACK, RegionState.NO_CHANGES, RegionState.ROLLED_BACK,
        RegionState.FAILED]
    assert _status(kit, REGIONS[1], name) == "CREATE_COMPLETE"  # existed before: survives
    for region in (REGIONS[0], REGIONS[2], REGIONS[3]):
        assert _status(kit, region, name) is None


def test_a_template_that_fails_validation_is_an_aws_error_before_any_write(
        kit: Any, box: Any, name: str) -> None:
    bad = "Resources:\n  Thing:\n    Type: AWS::Nope::Nothing\n"
    with pytest.raises(AwsCallError) as caught:
        rollout.run(kit, rollout.plan(REGIONS[:2]), bad, stack_name=name, apply=True)
    assert caught.value.region in REGIONS[:2]
    assert "AWS::Nope::Nothing" in str(caught.value)
    assert _operations(box) <= READS


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"stack_name": "1bad"}, "not a valid stack name"),
    ({"parameters": {"Enviroment": "prod"}}, "Environment"),
    ({"parameters": ["Environment"]}, "not a mapping"),
    ({"on_failure": "undo"}, "on_failure"),
    ({"gate": 3}, "not callable"),
    ({"bake_seconds": -1}, "bake_seconds"),
    ({"apply": "yes"}, "apply"),
    ({"template": "/no/such/template.yaml"}, "does not exist"),
    ({"template": "   "}, "empty"),
    ({"plan": ["us-east-1"]}, "not a rollout plan"),
    ({"plan": "sa-east-1?"}, "not a rollout plan"),
])
def test_bad_input_is_a_usage_error_before_any_request(kit: Any, box: Any, name: str,
                                                       kwargs: dict[str, Any],
                                                       needle: str) -> None:
    args: dict[str, Any] = {"plan": rollout.plan(REGIONS[:2]), "template":
                            rollout.template_path(), "stack_name": name, "apply": True}
    args.update(kwargs)
    with pytest.raises(UsageError) as caught:
        rollout.run(kit, args.pop("plan"), args.pop("template"), **args)
    assert needle in str(caught.value)
    assert box.requests() == 0


def test_a_region_the_kit_backend_does_not_serve_is_refused(kit: Any, box: Any,
                                                            name: str) -> None:
    plan = rollout.plan(["us-east-1", "me-south-1"])  # real, but not in this sandbox
    with pytest.raises(UsageError) as caught:
        rollout.run(kit, plan, rollout.template_path(), stack_name=name, apply=True)
    assert "me-south-1" in str(caught.value)
    assert box.requests() == 0


def test_ctrl_c_reports_in_flight_regions_and_leaves_no_thread(kit: Any, box: Any,
                                                               name: str) -> None:
    # warm the validation so the interrupt lands while stacks provision
    rollout.run(kit, rollout.plan(REGIONS[:1]), rollout.template_path(), stack_name=name)
    box.set_stacks(provision_seconds=5.0)
    plan = rollout.plan(REGIONS, max_concurrent=2, mode="soft")
    started = threading.Event()

    def interrupt() -> None:
        for _ in range(200):  # wait until two stacks are provisioning
            if sum(1 for s in box.stacks()["stacks"] if s["stack_name"] == name) >= 2:
                break
            started.wait(0.05)
        _thread.interrupt_main()

    timer = threading.Thread(target=interrupt, name="test-interrupter")
    timer.start()
    try:
        with pytest.raises(rollout.RolloutInterrupted) as caught:
            rollout.run(kit, plan, rollout.template_path(), stack_name=name, apply=True)
    finally:
        timer.join()
    result = caught.value.result
    assert isinstance(caught.value, KeyboardInterrupt)
    assert result.interrupted
    flying = result.regions(RegionState.INTERRUPTED)
    assert flying == REGIONS[:2]
    for region in flying:
        out = result[region]
        assert out.stack_status == "CREATE_IN_PROGRESS" and out.ended is not None
        assert "in flight when interrupted" in out.note
    assert result.regions(RegionState.SKIPPED) == REGIONS[2:]
    rows = [r for r in kit.metrics.rows("jobs") if r["map"] == f"rollout {name}"]
    assert sorted(r["key"] for r in rows) == sorted(REGIONS)  # each region once, final
    assert {r["state"] for r in rows} == {"interrupted", "skipped"}
    assert not [t for t in threading.enumerate() if t.name.startswith("geuse-rollout")]


def test_result_shows_a_gantt_chart_inline(kit: Any, box: Any, name: str) -> None:
    result = rollout.run(kit, rollout.plan(REGIONS[:2], max_concurrent=2),
                         rollout.template_path(), stack_name=name, apply=True)
    fig = result.gantt()
    assert len(fig.axes[0].patches) >= 2  # a bar per region
    html = result._repr_html_()
    assert "data:image/png;base64" in html and REGIONS[1] in html
    title, table, note = result.section()
    assert name in title and len(table) == 2 and "2 done" in note


def test_tolerance_exceeded_in_a_wave_starts_no_later_wave(kit: Any, box: Any,
                                                             name: str) -> None:
    box.set_stacks(REGIONS[0], provision_seconds=0.1, fail=True)
    plan = rollout.plan(REGIONS[:3], waves=[REGIONS[:2], REGIONS[2:3]], failure_tolerance=0)
    result = rollout.run(kit, plan, rollout.template_path(), stack_name=name, apply=True)
    assert [o.status for o in result.outcomes] == [RegionState.FAILED, RegionState.SKIPPED,
                                                    RegionState.SKIPPED]
    assert "wave 1" in (result.stopped or "")
    assert result["us-west-2"].note.startswith("not started")
    assert box.requests() and _status(kit, REGIONS[2], name) is None


def test_a_rolled_back_stack_is_replaced(kit: Any, box: Any, name: str) -> None:
    box.set_stacks(REGIONS[0], fail=True)
    kit.call("cloudformation", "create_stack", REGIONS[0], StackName=name,
             TemplateBody=rollout.template_path().read_text())
    assert _status(kit, REGIONS[0], name) == "ROLLBACK_COMPLETE"
    box.set_stacks()
    plan = rollout.plan(REGIONS[:1])
    dry = rollout.run(kit, plan, rollout.template_path(), stack_name=name)
    assert dry.outcomes[0].status == RegionState.WOULD_REPLACE
    result = rollout.run(kit, plan, rollout.template_path(), stack_name=name, apply=True)
    out = result.outcomes[0]
    assert out.status == RegionState.DONE and out.action == rollout.Action.REPLACE
    assert out.created and _status(kit, REGIONS[0], name) == "CREATE_COMPLETE"


def test_a_stack_unhealthy_after_the_bake_time_stops_the_next_wave(kit: Any, box: Any,
                                                                    name: str) -> None:
    stop = threading.Event()

    def break_first_wave() -> None:  # someone deletes the new stack while it bakes
        while not stop.wait(0.05):
            if _status(kit, REGIONS[0], name) == "CREATE_COMPLETE":
                # the run saw it complete within ~0.1 s (its first poll) and now bakes 3 s
                if not stop.wait(0.8):
                    kit.call("cloudformation", "delete_stack", REGIONS[0], StackName=name)
                return

    breaker = threading.Thread(target=break_first_wave, name="test-breaker")
    breaker.start()
    try:
        plan = rollout.plan(REGIONS[:2], waves=2)
        result = rollout.run(kit, plan, rollout.template_path(), stack_name=name, apply=True,
                             bake_seconds=3.0)
    finally:
        stop.set()
        breaker.join()
    assert "bake check after wave 1" in (result.stopped or "")
    assert [o.status for o in result.outcomes] == [RegionState.DONE, RegionState.SKIPPED]
