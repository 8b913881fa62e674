"""Capabilities: detected from the template (or given), sent with CreateStack/UpdateStack,
shown in the result; the sandbox refuses IAM templates without them as AWS does."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from geuse_nb.errors import AwsCallError, UsageError
from geuse_nb.ops import rollout
from geuse_nb.ops.rollout import RegionState
from geuse_nb.ops.rollout._capabilities import detect
from geuse_nb.ops.rollout._template import load
from geuse_nb.sandbox.capabilities import required

REGIONS = ["us-east-1", "eu-west-1", "us-west-2"]
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}


def _role_template(named: bool = True) -> str:
    props: dict[str, Any] = {"AssumeRolePolicyDocument": TRUST}
    if named:  # one name per region and run: IAM names are account-wide, as on AWS
        props["RoleName"] = {"Fn::Sub": "geuse-${Suffix}-${AWS::Region}"}
    return json.dumps({
        "Parameters": {"Suffix": {"Type": "String", "Default": "x"}},
        "Resources": {"AppRole": {"Type": "AWS::IAM::Role", "Properties": props}},
        "Outputs": {"RoleArn": {"Value": {"Fn::GetAtt": ["AppRole", "Arn"]}}}})


@pytest.fixture()
def box(sandbox: Any) -> Iterator[Any]:
    sandbox.set_stacks()
    sandbox.reset_counters()
    yield sandbox


YAML_MACRO = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Topic: {Type: AWS::SNS::Topic}
"""
YAML_TAGGED = """
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub "app-${AWS::Region}"
      AssumeRolePolicyDocument: {}
  Profile:
    Type: AWS::IAM::InstanceProfile
    Properties:
      Roles: [!Ref Role]
  Snippet:
    Fn::Transform: {Name: MyMacro}
"""


@pytest.mark.parametrize(("body", "needs"), [
    (_role_template(named=True), ("CAPABILITY_NAMED_IAM",)),
    (_role_template(named=False), ("CAPABILITY_IAM",)),
    (YAML_MACRO, ("CAPABILITY_AUTO_EXPAND",)),
    (YAML_TAGGED, ("CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND")),
    (rollout.template_path().read_text(), ()),
])
def test_detection_matches_what_the_sandbox_requires(body: str, needs: tuple[str, ...]) -> None:
    assert load(body).needs == needs
    assert tuple(required(body)) == needs  # the service side, written independently


def test_sandbox_refuses_iam_without_capabilities_as_aws_does(kit: Any, box: Any) -> None:
    name = "c-" + uuid.uuid4().hex[:8]
    body = _role_template()
    for given in ([], ["CAPABILITY_IAM"]):  # the plain capability does not cover a name
        with pytest.raises(AwsCallError) as caught:
            kit.call("cloudformation", "create_stack", "us-east-1", StackName=name,
                     TemplateBody=body, Capabilities=given,
                     Parameters=[{"ParameterKey": "Suffix", "ParameterValue": name}])
        err = caught.value
        assert err.error_code == "InsufficientCapabilitiesException"
        said = err.__cause__.response["Error"]  # type: ignore[union-attr]  # botocore's
        assert said["Message"] == "Requires capabilities : [CAPABILITY_NAMED_IAM]"
        assert err.__cause__.response["ResponseMetadata"]["HTTPStatusCode"] == 400  # type: ignore[union-attr]
        assert "CAPABILITY_NAMED_IAM" in (err.suggestion or "")
    kit.call("cloudformation", "create_stack", "us-east-1", StackName=name, TemplateBody=body,
             Capabilities=["CAPABILITY_NAMED_IAM"],
             Parameters=[{"ParameterKey": "Suffix", "ParameterValue": name}])
    kit.call("cloudformation", "delete_stack", "us-east-1", StackName=name)


def test_named_role_rolls_out_with_detected_capabilities(kit: Any, box: Any) -> None:
    name = "c-" + uuid.uuid4().hex[:8]
    plan = rollout.plan(REGIONS, max_concurrent=3)
    dry = rollout.run(kit, plan, _role_template(), stack_name=name,
                      parameters={"Suffix": name})
    assert dry.capabilities == ("CAPABILITY_NAMED_IAM",)
    assert "CAPABILITY_NAMED_IAM (detected)" in dry.describe()
    result = rollout.run(kit, plan, _role_template(), stack_name=name, apply=True,
                         parameters={"Suffix": name})
    assert result.counts == {"done": 3}, result.frame()
    assert all(":role/geuse-" in o.outputs["RoleArn"] for o in result.outcomes)
    assert result.frame().attrs["capabilities"] == ["CAPABILITY_NAMED_IAM"]


def test_no_capabilities_fails_each_region_and_stops_per_tolerance(kit: Any, box: Any) -> None:
    name = "c-" + uuid.uuid4().hex[:8]
    plan = rollout.plan(REGIONS, max_concurrent=1, failure_tolerance=1)
    result = rollout.run(kit, plan, _role_template(), stack_name=name, apply=True,
                         parameters={"Suffix": name}, capabilities=[])
    assert [o.status for o in result.outcomes] == [RegionState.FAILED, RegionState.FAILED,
                                                  RegionState.SKIPPED]
    for out in result.outcomes[:2]:
        assert (out.error or "").endswith(
            "[InsufficientCapabilitiesException]: Requires capabilities : [CAPABILITY_NAMED_IAM]")
        assert "capabilities=['CAPABILITY_NAMED_IAM']" in (out.suggestion or "")
    assert "tolerance exceeded" in (result.stopped or "")
    assert "no capabilities (given)" in result.describe()


@pytest.mark.parametrize("bad", ["CAPABILITY_IAM", ["CAPABILITY_IAMS"], [3], 5])
def test_bad_capabilities_are_refused_before_any_request(kit: Any, box: Any, bad: Any) -> None:
    with pytest.raises(UsageError) as caught:
        rollout.run(kit, rollout.plan(REGIONS[:1]), _role_template(), stack_name="c-bad",
                    capabilities=bad)
    assert "capabilities" in str(caught.value) and caught.value.suggestion
    assert not len(kit.metrics.frame("api_calls"))


def test_detect_reads_a_parsed_template_only() -> None:
    assert detect(None) == () and detect("text") == ()
