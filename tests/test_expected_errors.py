"""Expected answers are not errors: a call declares the error codes it expects (the
rollout's not-found probe); the attempt keeps its HTTP status and code, is marked
``expected`` and the report counts it as "expected not found", not as an error."""

from __future__ import annotations

import uuid
from typing import Any

import pandas as pd
import pytest

from geuse_nb.errors import AwsCallError, UsageError
from geuse_nb.observe.analysis import error_attempts, expected_attempts
from geuse_nb.ops import rollout

REGIONS = ["us-east-1", "eu-west-1", "us-west-2"]


def test_clean_rollout_of_new_stacks_reports_no_errors_and_one_expected_per_probe(
        kit: Any, sandbox: Any) -> None:
    sandbox.set_stacks()
    name = "x-" + uuid.uuid4().hex[:10]
    plan = rollout.plan(REGIONS, max_concurrent=3)
    result = rollout.run(kit, plan, rollout.template_path(), stack_name=name, apply=True)
    assert result.counts == {"done": 3}
    calls = kit.metrics.frame("api_calls")
    probes = calls[(calls["operation"] == "describe_stacks") & (calls["error_code"].notna())]
    assert len(probes) == len(REGIONS)  # one "does not exist" per region, before its create
    assert set(probes["http_status"]) == {400} and set(probes["error_code"]) == {
        "ValidationError"}  # kept as AWS answered
    assert probes["expected"].all()
    head = kit.report().headline
    assert head["errors"] == 0
    assert head["expected_not_found"] == len(probes)
    summary = kit.report().section("summary")
    assert "expected not found" in summary.markdown
    errors = kit.report().section("errors")
    assert "ValidationError" not in errors.markdown  # not in "what to do" either


def test_the_same_answer_without_expect_is_an_error(kit: Any) -> None:
    missing = "none-" + uuid.uuid4().hex[:8]
    for expect in ((), ("ValidationError",)):
        with pytest.raises(AwsCallError) as caught:  # expecting it still raises it
            kit.call("cloudformation", "describe_stacks", "us-east-1", refresh=True,
                     StackName=missing, expect=expect)
        assert caught.value.error_code == "ValidationError"
    calls = kit.metrics.frame("api_calls")
    rows = calls[calls["operation"] == "describe_stacks"]
    assert list(rows["expected"]) == [False, True]
    assert list(error_attempts(rows)) == [True, False]
    assert kit.report().headline["errors"] == 1


def test_an_expected_code_marks_only_that_code(kit: Any) -> None:
    with pytest.raises(AwsCallError) as caught:
        kit.call("ec2", "describe_vpcs", "us-east-1", refresh=True,
                 VpcIds=["vpc-0123456789abcdef0"], expect="InvalidVpcID.NotFound")
    assert caught.value.error_code == "InvalidVpcID.NotFound"
    with pytest.raises(AwsCallError):  # a different code stays an error
        kit.call("ec2", "describe_vpcs", "us-east-1", refresh=True,
                 VpcIds=["vpc-0123456789abcdef0"], expect=("ThrottlingException",))
    kit.call("ec2", "describe_vpcs", "us-east-1", refresh=True, expect="X")  # ok: no error
    rows = kit.metrics.frame("api_calls")
    assert list(rows["expected"]) == [True, False, False]
    assert list(error_attempts(rows)) == [False, True, False]


@pytest.mark.parametrize("bad", [3, [""], [None], ("ok", 5)])
def test_bad_expect_is_a_usage_error_before_any_request(kit: Any, bad: Any) -> None:
    with pytest.raises(UsageError) as caught:
        kit.call("ec2", "describe_vpcs", "us-east-1", expect=bad)
    assert "expect=" in str(caught.value) and caught.value.suggestion
    assert not len(kit.metrics.frame("api_calls"))


def test_frames_without_the_column_count_as_before() -> None:
    old = pd.DataFrame({"http_status": [200, 400, None], "error_code": [None, "X", None]})
    assert list(error_attempts(old)) == [False, True, False]
    assert list(expected_attempts(old)) == [False, False, False]
