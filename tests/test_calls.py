"""The call path: name forms, validation before sending, caching, pagination, errors."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

import geuse_nb as gn
from geuse_nb.aws.calls import main_list
from geuse_nb.aws.errors import is_retryable, to_aws_error
from geuse_nb.errors import AwsCallError, GeuseError, UsageError


def _api_rows(kit: Any) -> Any:
    rows = kit.metrics.frame("api_calls")
    return rows[~rows["cache_hit"].astype(bool)]


# ---------------------------------------------------------------- names and validation
def test_snake_cli_and_api_names_are_one_operation(kit: Any) -> None:
    a = kit.call("ec2", "describe_availability_zones", refresh=True)
    b = kit.call("ec2", "describe-availability-zones", refresh=True)
    c = kit.call("ec2", "DescribeAvailabilityZones", refresh=True)
    names = [z["ZoneName"] for z in a["AvailabilityZones"]]
    assert names
    assert [z["ZoneName"] for z in b["AvailabilityZones"]] == names
    assert [z["ZoneName"] for z in c["AvailabilityZones"]] == names
    assert set(_api_rows(kit)["operation"]) == {"describe_availability_zones"}


@pytest.mark.parametrize("spelling", ["DescribeACLs", "describe_acls", "describe-acls"])
def test_acronym_operations_resolve_in_every_spelling(kit: Any, spelling: str) -> None:
    """``DescribeACLs`` is ``describe_acls`` to boto3 but ``describe_ac_ls`` by the plain
    camel-case rule: the call path knows both, and sends nothing to resolve a name."""
    before = kit.sandbox.requests()
    _region, op = kit._calls.resolve("memorydb", spelling)
    assert (op.api, op.snake) == ("DescribeACLs", "describe_acls")
    assert kit.sandbox.requests() == before


@pytest.mark.parametrize(
    ("args", "params", "bad", "closest"),
    [
        (("ec3", "describe_regions"), {}, "'ec3'", "'ec2'"),
        (("cloudformaton", "list_stacks"), {}, "'cloudformaton'", "'cloudformation'"),
        (("ec2", "describe_regionz"), {}, "'describe_regionz'", "'describe_regions'"),
        (("ec2", "describe-instance-typs"), {}, "'describe-instance-typs'",
         "'describe_instance_types'"),
        (("ec2", "describe_regions"), {"RegionNamez": ["x"]}, "'RegionNamez'",
         "'RegionNames'"),
        (("ec2", "describe_instances"), {"instanceids": ["i-1"]}, "'instanceids'",
         "'InstanceIds'"),
        (("ec2", "describe_regions", "eu-wset-1"), {}, "'eu-wset-1'", "'eu-west-1'"),
    ],
)
def test_bad_input_names_the_input_and_closest_names_and_sends_nothing(
        kit: Any, args: tuple[str, ...], params: dict[str, Any], bad: str, closest: str) -> None:
    before = kit.sandbox.requests()
    with pytest.raises(UsageError) as caught:
        kit.call(*args, **params)
    message = str(caught.value)
    assert bad in message
    assert closest in message
    assert isinstance(caught.value, GeuseError)
    assert kit.sandbox.requests() == before
    assert _api_rows(kit).empty


def test_wrong_parameter_type_is_a_usage_error_before_sending(kit: Any) -> None:
    before = kit.sandbox.requests()
    with pytest.raises(UsageError, match="RegionNames"):
        kit.call("ec2", "describe_regions", RegionNames="eu-west-1")
    assert kit.sandbox.requests() == before


def test_a_remembered_validation_still_refuses_other_names(
        kit: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Validated calls are remembered by their names only: a good call does not let a bad
    parameter, region or operation through afterwards, and the memory is bounded."""
    import geuse_nb.aws.calls as calls_module

    monkeypatch.setattr(calls_module, "VALID_MEMO", 3)
    path = kit._calls
    for _ in range(2):
        path.resolve("ec2", "describe_regions", "eu-west-1", {"RegionNames": 1})
        with pytest.raises(UsageError, match="'RegionName'"):
            path.resolve("ec2", "describe_regions", "eu-west-1", {"RegionName": 1})
        with pytest.raises(UsageError, match="'eu-wset-1'"):
            path.resolve("ec2", "describe_regions", "eu-wset-1", {"RegionNames": 1})
        with pytest.raises(UsageError, match="describe_regoins"):
            path.resolve("ec2", "describe_regoins", "eu-west-1")
    for region in ("eu-west-1", "us-east-1", "us-west-2", "eu-central-1"):
        region_, op = path.resolve("ec2", "DescribeVpcs", region)
        assert (region_, op.snake, op.read) == (region, "describe_vpcs", True)
    assert len(path._valid) <= 3


def test_unknown_region_on_records_sends_nothing(kit: Any) -> None:
    before = kit.sandbox.requests()
    with pytest.raises(UsageError, match="'us-east-9'"):
        kit.records("ec2", "describe_regions", "us-east-9")
    assert kit.sandbox.requests() == before


# ---------------------------------------------------------------- caching
def test_reads_are_cached_and_hits_recorded(kit: Any) -> None:
    region = "eu-west-1"
    first = kit.call("ec2", "describe_availability_zones", region)
    before = kit.sandbox.requests(region)
    second = kit.call("ec2", "describe_availability_zones", region)
    assert kit.sandbox.requests(region) == before, "the second read should come from the cache"
    assert second["AvailabilityZones"] == first["AvailabilityZones"]
    rows = kit.metrics.frame("api_calls")
    hits = rows[rows["cache_hit"].astype(bool)]
    assert len(hits) == 1
    assert hits.iloc[0]["operation"] == "describe_availability_zones"
    assert hits.iloc[0]["region"] == region
    assert hits.iloc[0]["latency"] >= 0
    kit.call("ec2", "describe_availability_zones", region, refresh=True)
    assert kit.sandbox.requests(region) == before + 1


def test_cache_hit_ignores_param_order_and_datetime_form(kit: Any) -> None:
    naive = dt.datetime(2026, 1, 2, 3, 4, 5)
    aware = naive.replace(tzinfo=dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=2)))
    region = "eu-north-1"
    kit.call("ec2", "describe_spot_price_history", region, StartTime=naive,
             InstanceTypes=["m5.large", "c5.large"], EndTime=naive + dt.timedelta(hours=1))
    before = kit.sandbox.requests(region)
    kit.call("ec2", "describe_spot_price_history", region,
             EndTime=aware + dt.timedelta(hours=1), InstanceTypes=["m5.large", "c5.large"],
             StartTime=aware)
    assert kit.sandbox.requests(region) == before


def test_writes_are_never_cached(kit: Any) -> None:
    region = "us-west-2"
    vpc = kit.call("ec2", "create_vpc", region, CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    before = kit.sandbox.requests(region)
    for _ in range(2):
        kit.call("ec2", "create_tags", region, Resources=[vpc],
                 Tags=[{"Key": "k", "Value": "v"}])
    assert kit.sandbox.requests(region) == before + 2
    kit.call("ec2", "delete_vpc", region, VpcId=vpc)


def test_stale_entry_served_when_a_read_fails_retryably(sandbox: Any) -> None:
    region = "eu-west-1"
    with gn.Kit("stale", backend="sandbox", sandbox=sandbox, cache_stale_if_error=3600,
                pool_max_attempts=1) as kit:
        fresh = kit.call("ec2", "describe_availability_zones", region, ttl=0.001)
        sandbox.set_faults(region=region, throttle_rate=1.0)
        try:
            served = kit.call("ec2", "describe_availability_zones", region, refresh=True)
        finally:
            sandbox.clear_faults()
        assert served["AvailabilityZones"] == fresh["AvailabilityZones"]
        assert kit.metrics.counter("cache.stale_served") == 1


def test_without_stale_if_error_a_throttled_read_raises_with_suggestion(sandbox: Any) -> None:
    region = "eu-west-1"
    with gn.Kit("throttled", backend="sandbox", sandbox=sandbox, pool_max_attempts=1) as kit:
        kit.call("ec2", "describe_availability_zones", region)
        sandbox.set_faults(region=region, throttle_rate=1.0)
        try:
            with pytest.raises(AwsCallError) as caught:
                kit.call("ec2", "describe_availability_zones", region, refresh=True)
        finally:
            sandbox.clear_faults()
    err = caught.value
    assert err.retryable
    assert err.service == "ec2"
    assert err.operation == "describe_availability_zones"
    assert err.region == region
    assert err.error_code in {"RequestLimitExceeded", "Throttling", "ThrottlingException"}
    assert "n_jobs" in err.suggestion


def test_aws_errors_carry_code_and_are_not_retryable_when_final(kit: Any) -> None:
    with pytest.raises(AwsCallError) as caught:
        kit.call("ec2", "describe_instances", InstanceIds=["i-0123456789abcdef0"])
    err = caught.value
    assert err.error_code and err.error_code.startswith("InvalidInstanceID")
    assert not err.retryable
    assert "ec2.describe_instances" in str(err)


# ---------------------------------------------------------------- pagination and records
def test_paginated_operation_merges_every_page(kit: Any) -> None:
    region = "us-east-1"
    params = {"InstanceTypes": ["m5.large", "c5.large"],
              "ProductDescriptions": ["Linux/UNIX"],
              "StartTime": dt.datetime.now(dt.UTC) - dt.timedelta(days=2)}
    raw = kit.client("ec2", region)
    expected: list[dict[str, Any]] = []
    token: str | None = None
    pages = 0
    while True:
        page = raw.describe_spot_price_history(MaxResults=5, **params,
                                               **({"NextToken": token} if token else {}))
        pages += 1
        expected.extend(page["SpotPriceHistory"])
        token = page.get("NextToken")
        if not token:
            break
    assert pages >= 3, "the sandbox should need several pages at MaxResults=5"
    before = kit.sandbox.requests(region)
    merged = kit.call("ec2", "describe_spot_price_history", region, MaxResults=5, **params)
    assert kit.sandbox.requests(region) - before == pages
    assert "NextToken" not in merged
    assert merged["SpotPriceHistory"] == expected
    assert merged["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_records_returns_main_list_with_region(kit: Any) -> None:
    frame = kit.records("ec2", "describe-availability-zones", "eu-west-1")
    zones = kit.call("ec2", "describe_availability_zones", "eu-west-1")["AvailabilityZones"]
    assert len(frame) == len(zones)
    assert "ZoneName" in frame.columns
    assert set(frame["region"]) == {"eu-west-1"}
    one = kit.records("sts", "get_caller_identity")
    assert len(one) == 1
    assert one["Account"].iloc[0].isdigit()


def test_main_list_prefers_the_paginator_result_key() -> None:
    assert main_list({"A": [1], "B": [2]}, {"result_key": "B"}) == ("B", [2])
    assert main_list({"A": [1], "N": "x"}) == ("A", [1])
    assert main_list({"N": "x"}) == (None, [])
    with pytest.raises(UsageError, match="several lists"):
        main_list({"A": [1], "B": [2]})


# ---------------------------------------------------------------- aws_errors
def _client_error(code: str, status: int = 400, message: str = "boom",
                  op: str = "DescribeInstances") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, op)


@pytest.mark.parametrize(
    ("exc", "retryable", "words"),
    [
        (_client_error("ExpiredToken"), False, "aws sso login"),
        (_client_error("RequestExpired"), False, "expired"),
        (_client_error("UnauthorizedOperation"), False, "ec2:DescribeInstances"),
        (_client_error("AccessDenied"), False, "ec2:DescribeInstances"),
        (_client_error("RequestLimitExceeded", 503), True, "adaptive"),
        (_client_error("ThrottlingException"), True, "n_jobs"),
        (_client_error("OptInRequired", 401), False, "not enabled"),
        (_client_error("AuthFailure", 401), False, "not enabled"),
        (_client_error("InvalidInstanceType"), False, "instance type"),
        (_client_error("InvalidParameterValue", message="Invalid instance type m9.huge"),
         False, "instance type"),
        (_client_error("InternalError", 500), True, "transient"),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), True, "not reachable"),
        (_client_error("InvalidVpcID.NotFound"), False, "InvalidVpcID.NotFound"),
    ],
)
def test_to_aws_error_suggests_what_to_do(exc: Exception, retryable: bool, words: str) -> None:
    err = to_aws_error(exc, "ec2", "describe_instances", "eu-west-1")
    assert isinstance(err, AwsCallError)
    assert err.retryable is retryable
    assert is_retryable(exc) is retryable
    assert is_retryable(err) is retryable
    assert words in err.suggestion
    assert err.service == "ec2" and err.region == "eu-west-1"
    assert "\n" not in err.suggestion


def test_programming_errors_are_not_retryable() -> None:
    assert not is_retryable(ValueError("x"))
    assert not is_retryable(KeyError("x"))
    assert is_retryable(ConnectionResetError())


def test_call_path_pickles_for_process_workers(kit: Any) -> None:
    import pickle

    blob = pickle.dumps(kit._calls)
    assert kit.backend.session_kwargs()["aws_secret_access_key"].encode() not in blob
    copy = pickle.loads(blob)
    try:
        assert copy.call("sts", "get_caller_identity")["Account"].isdigit()
        assert len(copy.recorder.frame("api_calls")) == 1
    finally:
        copy.pool.close()
        copy.cache.close()
