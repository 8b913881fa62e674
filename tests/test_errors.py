"""Errors carry their fields and suggestion, and survive pickling (joblib/Dask workers)."""

from __future__ import annotations

import pickle

import pytest

import geuse_nb as gn

ERRORS = [
    gn.ConfigError("PARALLEL_MAX_WORKERS", "abc", "a whole number ≥ 1"),
    gn.UsageError("unknown service 'ec3'", suggestion="did you mean 'ec2'?"),
    gn.AwsCallError("denied", service="ec2", operation="DescribeInstances", region="eu-west-1",
                    error_code="UnauthorizedOperation", suggestion="grant ec2:DescribeInstances",
                    retryable=False),
    gn.JobError({"a": ValueError("boom"), "b": KeyError("x")}),
    gn.MissingDependencyError("dask", "dask"),
    gn.SandboxError("sandbox did not start", suggestion="see the log"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_errors_pickle_with_fields_and_message(error: gn.GeuseError) -> None:
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is type(error)
    assert str(clone) == str(error)
    assert vars(clone).keys() == vars(error).keys()
    assert clone.suggestion == error.suggestion


def test_aws_error_message_says_where_and_what_next() -> None:
    text = str(ERRORS[2])
    assert "ec2.DescribeInstances in eu-west-1 [UnauthorizedOperation]" in text
    assert text.endswith("grant ec2:DescribeInstances")


def test_job_error_counts_and_names_first_failure() -> None:
    assert "2 job(s) failed; first 'a': boom (and 1 more)" in str(ERRORS[3])


def test_missing_dependency_names_the_extra() -> None:
    assert "pip install 'geuse_nb[dask]'" in str(ERRORS[4])
