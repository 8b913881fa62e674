"""A failed update rolls back to the last good template and parameters, as CloudFormation
does, so a later dry run sees the truth (``would_update``), not ``no_changes``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from geuse_nb.ops import rollout
from geuse_nb.ops.rollout import RegionState

REGION = "eu-west-1"


@pytest.fixture()
def box(sandbox: Any) -> Iterator[Any]:
    sandbox.set_stacks()
    yield sandbox
    sandbox.set_stacks()


def _stack(kit: Any, name: str) -> dict[str, Any]:
    return kit.call("cloudformation", "describe_stacks", REGION, refresh=True,  # type: ignore[no-any-return]
                    StackName=name)["Stacks"][0]


def _template(kit: Any, name: str) -> str:
    return str(kit.call("cloudformation", "get_template", REGION, refresh=True, StackName=name,
                        TemplateStage="Original")["TemplateBody"])


def test_failed_update_rolls_back_and_a_dry_run_would_update(kit: Any, box: Any) -> None:
    name = "rb-" + uuid.uuid4().hex[:8]
    plan = rollout.plan([REGION])
    good = rollout.template_path().read_text()
    first = rollout.run(kit, plan, good, stack_name=name, apply=True)
    assert first.counts == {"done": 1}

    box.set_stacks(REGION, fail=True)
    changed = good.replace("Description:", "# a changed template\nDescription:", 1)
    assert changed != good
    failed = rollout.run(kit, plan, changed, stack_name=name, apply=True,
                         parameters={"Environment": "staging"})
    assert failed[REGION].status is RegionState.FAILED
    assert failed[REGION].stack_status == "UPDATE_ROLLBACK_COMPLETE"
    box.set_stacks()

    stack = _stack(kit, name)
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}[
        "Environment"] != "staging"  # the last good parameters
    assert stack["Outputs"]  # kept (moto's own update drops some: its quirk, not ours)
    assert _template(kit, name).strip() == good.strip()  # the last good template

    dry = rollout.run(kit, plan, changed, stack_name=name, parameters={"Environment": "staging"})
    assert dry[REGION].status is RegionState.WOULD_UPDATE
    assert "template differs" in dry[REGION].note and "staging" in dry[REGION].note
    same = rollout.run(kit, plan, good, stack_name=name)  # the last good one is deployed
    assert same[REGION].status is RegionState.NO_CHANGES

    again = rollout.run(kit, plan, changed, stack_name=name, apply=True,
                        parameters={"Environment": "staging"})  # now it succeeds
    assert again[REGION].status is RegionState.DONE
    assert _template(kit, name).strip() == changed.strip()
    kit.call("cloudformation", "delete_stack", REGION, StackName=name)


def test_a_retried_create_stack_finds_its_own_stack_and_says_so(
        kit: Any, box: Any, caplog: pytest.LogCaptureFixture) -> None:
    """The CreateStack bound: botocore retries a timed-out CreateStack; when the first
    attempt had created the stack, the retry's AlreadyExists is recognised by this run's
    tag (logged), and a stranger's stack of that name still fails the region."""
    import threading

    from geuse_nb.errors import AwsCallError
    from geuse_nb.ops.rollout import _deploy
    from geuse_nb.ops.rollout._template import load

    name = "rt-" + uuid.uuid4().hex[:8]
    dep = _deploy.Deployment(kit=kit, stack_name=name, template=load(rollout.template_path()),
                             parameters={}, run_id="run" + uuid.uuid4().hex[:6],
                             stop=threading.Event(), note=lambda *a: None)
    first = _deploy.create(dep, REGION, [], {})  # the attempt that went through
    with caplog.at_level("WARNING", logger="geuse_nb.ops.rollout._deploy"):
        again = _deploy.create(dep, REGION, [], {})  # what the retry meets
    assert again["StackId"] == first["StackId"]
    assert any("AlreadyExists" in r.getMessage() and name in r.getMessage()
               for r in caplog.records)
    other = _deploy.Deployment(kit=kit, stack_name=name, template=dep.template, parameters={},
                               run_id="another", stop=dep.stop, note=dep.note)
    with pytest.raises(AwsCallError) as caught:
        _deploy.create(other, REGION, [], {})
    assert caught.value.error_code == "AlreadyExistsException"
    kit.call("cloudformation", "delete_stack", REGION, StackName=name)
