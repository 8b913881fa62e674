"""Sandbox stacks that take time and can fail (``Sandbox.set_stacks``)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from geuse_nb.errors import AwsCallError, SandboxError, UsageError
from geuse_nb.ops import rollout


@pytest.fixture()
def box(sandbox: Any) -> Iterator[Any]:
    sandbox.set_stacks()
    yield sandbox
    sandbox.set_stacks()


def _describe(kit: Any, region: str, stack: str) -> dict[str, Any]:
    return kit.call("cloudformation", "describe_stacks", region, refresh=True,
                    StackName=stack)["Stacks"][0]  # type: ignore[no-any-return]


def test_stacks_provision_for_the_set_time_while_the_region_keeps_answering(
        kit: Any, box: Any) -> None:
    name = "s-" + uuid.uuid4().hex[:8]
    box.set_stacks("eu-west-1", provision_seconds=4.0)
    kit.call("cloudformation", "create_stack", "eu-west-1", StackName=name,
             TemplateBody=rollout.template_path().read_text())
    began = time.monotonic()  # the clock starts when CreateStack is answered
    stack = _describe(kit, "eu-west-1", name)
    assert stack["StackStatus"] == "CREATE_IN_PROGRESS"
    assert "Outputs" not in stack
    with pytest.raises(AwsCallError) as caught:  # as on AWS: no update while in progress
        kit.call("cloudformation", "update_stack", "eu-west-1", StackName=name,
                 TemplateBody=rollout.template_path().read_text())
    assert "CREATE_IN_PROGRESS state and can not be updated" in str(caught.value)
    kit.call("ec2", "describe_vpcs", "eu-west-1", refresh=True)  # other calls: no wait
    assert _describe(kit, "eu-west-1", name)["StackStatus"] == "CREATE_IN_PROGRESS"
    assert time.monotonic() - began < 4.0
    while (stack := _describe(kit, "eu-west-1", name))["StackStatus"] != "CREATE_COMPLETE":
        assert stack["StackStatus"] == "CREATE_IN_PROGRESS"
        assert time.monotonic() - began < 15
        time.sleep(0.1)
    assert time.monotonic() - began >= 4.0
    assert {o["OutputKey"] for o in stack["Outputs"]} == {"VpcId", "SubnetId",
                                                          "SecurityGroupId"}
    other = "o-" + uuid.uuid4().hex[:8]  # only eu-west-1 was set
    kit.call("cloudformation", "create_stack", "us-east-1", StackName=other,
             TemplateBody=rollout.template_path().read_text())
    assert _describe(kit, "us-east-1", other)["StackStatus"] == "CREATE_COMPLETE"


def test_failing_stacks_end_rolled_back_with_a_reason(kit: Any, box: Any) -> None:
    name = "f-" + uuid.uuid4().hex[:8]
    box.set_stacks(provision_seconds=0.0, fail=True)
    kit.call("cloudformation", "create_stack", "us-west-2", StackName=name,
             TemplateBody=rollout.template_path().read_text())
    stack = _describe(kit, "us-west-2", name)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "failed to create" in stack["StackStatusReason"]
    state = box.stacks()
    assert state["default"] == {"seconds": 0.0, "fail": True}
    assert any(s["stack_name"] == name for s in state["stacks"])
    kit.call("cloudformation", "delete_stack", "us-west-2", StackName=name)
    assert not any(s["stack_name"] == name for s in box.stacks()["stacks"])


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"region": "eu-wset-1"}, "eu-west-1"),
    ({"provision_seconds": -1.0}, "provision_seconds"),
    ({"provision_seconds": float("nan")}, "provision_seconds"),
    ({"fail": "yes"}, "fail"),
])
def test_bad_settings_are_refused(box: Any, kwargs: dict[str, Any], needle: str) -> None:
    with pytest.raises((SandboxError, UsageError)) as caught:
        box.set_stacks(**kwargs)
    assert needle in str(caught.value)
