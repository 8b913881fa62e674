"""The sandbox child process: keep-alive, latency, faults, outages, spot market, lifecycle."""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.config
import psutil
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from geuse_nb.errors import SandboxError, UsageError
from geuse_nb.sandbox import Sandbox

FAKE = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
# a fixed past window (within the 90 days of history EC2 keeps), the same in every process
WEEK_AGO = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def client(box: Sandbox, region: str = "us-east-1", service: str = "ec2",
           attempts: int = 1, **config: Any) -> Any:
    cfg = botocore.config.Config(retries={"mode": "standard", "total_max_attempts": attempts},
                                 **config)
    return boto3.client(service, region, endpoint_url=box.endpoint_url(region), config=cfg,
                        **FAKE)


@pytest.fixture(scope="module")
def lab() -> Iterator[Sandbox]:
    """A sandbox these tests may reconfigure (the session one stays untouched)."""
    with Sandbox(seed=11, regions=["us-east-1", "eu-west-1"], rtt=0.0) as box:
        yield box


@pytest.fixture()
def clean_lab(lab: Sandbox) -> Iterator[Sandbox]:
    lab.clear_faults()
    lab.set_network(rtt=0.0, handshake_factor=2.0)
    yield lab
    lab.clear_faults()
    lab.set_network(rtt=0.0, handshake_factor=2.0)


def test_200_sequential_calls_use_at_most_2_connections(sandbox: Sandbox) -> None:
    ec2 = client(sandbox)
    before = sandbox.connections("us-east-1")
    for _ in range(200):
        ec2.describe_availability_zones()
    ec2.close()
    assert sandbox.connections("us-east-1") - before <= 2
    frame = sandbox.counters_frame()
    row = frame[(frame.operation == "DescribeAvailabilityZones") & (frame.region == "us-east-1")]
    assert int(row.requests.iloc[0]) >= 200
    assert frame.attrs["connections"]["us-east-1"] >= 1


def test_new_connections_pay_the_handshake(clean_lab: Sandbox) -> None:
    rtt = 0.02
    clean_lab.set_network(rtt=rtt)
    ec2 = client(clean_lab)
    ec2.describe_regions()  # open the connection
    began = time.perf_counter()
    for _ in range(8):
        ec2.describe_regions()
    reused = time.perf_counter() - began
    ec2.close()
    began = time.perf_counter()
    for _ in range(8):
        fresh = client(clean_lab)
        fresh.describe_regions()
        fresh.close()
    new = time.perf_counter() - began
    assert reused >= 8 * rtt  # every request pays one RTT
    assert new >= 8 * rtt * 3  # ...and a new connection two more
    assert new >= 2 * reused


def test_throttling_rate_is_seeded_and_retried(clean_lab: Sandbox) -> None:
    clean_lab.set_faults(throttle_rate=0.3, seed=5)
    ec2 = client(clean_lab)
    outcomes = []
    for _ in range(100):
        try:
            ec2.describe_regions()
            outcomes.append(None)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "RequestLimitExceeded"
            assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 503
            outcomes.append("throttled")
    assert 15 <= outcomes.count("throttled") <= 45
    clean_lab.set_faults(throttle_rate=0.3, seed=5)  # same seed: same sequence
    again = []
    for _ in range(100):
        try:
            ec2.describe_regions()
            again.append(None)
        except ClientError:
            again.append("throttled")
    assert again == outcomes
    ec2.close()
    clean_lab.set_faults(throttle_rate=0.3, seed=5)
    retrying = client(clean_lab, attempts=6)
    retries = [retrying.describe_regions()["ResponseMetadata"]["RetryAttempts"]
               for _ in range(outcomes.index("throttled") + 1)]
    retrying.close()
    assert retries[-1] >= 1 and retries[:-1] == [0] * (len(retries) - 1)


def test_query_and_json_protocols_get_their_throttle_shapes(clean_lab: Sandbox) -> None:
    clean_lab.set_faults(throttle_rate=1.0)
    expected = {"cloudformation": ("list_stacks", "Throttling", 400),
                "sts": ("get_caller_identity", "Throttling", 400),
                "cloudwatch": ("list_metrics", "ThrottlingException", 400)}
    for service, (operation, code, status) in expected.items():
        api = client(clean_lab, service=service)
        with pytest.raises(ClientError) as err:
            getattr(api, operation)()
        api.close()
        assert err.value.response["Error"]["Code"] == code
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    frame = clean_lab.counters_frame()
    assert set(frame[frame.throttled > 0].service) >= {"cloudformation", "sts", "monitoring"}


def test_server_errors_at_a_rate(clean_lab: Sandbox) -> None:
    clean_lab.set_faults(region="eu-west-1", error_rate=1.0)
    ec2 = client(clean_lab, "eu-west-1")
    with pytest.raises(ClientError) as err:
        ec2.describe_regions()
    ec2.close()
    assert (err.value.response["Error"]["Code"],
            err.value.response["ResponseMetadata"]["HTTPStatusCode"]) in (
        ("InternalError", 500), ("ServiceUnavailable", 503))
    ok = client(clean_lab, "us-east-1")
    assert ok.describe_regions()["ResponseMetadata"]["HTTPStatusCode"] == 200
    ok.close()


def test_refused_region_fails_fast_and_recovers(clean_lab: Sandbox) -> None:
    before = client(clean_lab, "eu-west-1", connect_timeout=1, read_timeout=2)
    before.describe_regions()  # a pooled connection that the outage must also cut
    clean_lab.set_faults(region="eu-west-1", outage="refuse")
    began = time.perf_counter()
    with pytest.raises((EndpointConnectionError, ConnectTimeoutError)):
        client(clean_lab, "eu-west-1", connect_timeout=1).describe_regions()
    assert time.perf_counter() - began < 1.5
    with pytest.raises((EndpointConnectionError, ConnectTimeoutError)):
        before.describe_regions()
    other = client(clean_lab, "us-east-1")
    assert other.describe_regions()["ResponseMetadata"]["HTTPStatusCode"] == 200
    clean_lab.clear_faults()
    assert before.describe_regions()["ResponseMetadata"]["HTTPStatusCode"] == 200
    before.close()
    other.close()


def test_hanging_region_times_out_others_unaffected(clean_lab: Sandbox) -> None:
    clean_lab.set_faults(region="eu-west-1", outage="hang")
    hung = client(clean_lab, "eu-west-1", read_timeout=0.5, connect_timeout=1)
    with pytest.raises(ReadTimeoutError):
        hung.describe_regions()
    hung.close()
    other = client(clean_lab, "us-east-1", read_timeout=2)
    assert other.describe_regions()["ResponseMetadata"]["HTTPStatusCode"] == 200
    other.close()


def test_bad_requests_get_aws_error_shapes(sandbox: Sandbox) -> None:
    stray = boto3.client("ec2", "xx-fake-1", endpoint_url=sandbox.endpoint_url("us-east-1"),
                         **FAKE)
    with pytest.raises(ClientError) as err:
        stray.describe_availability_zones()
    stray.close()
    assert err.value.response["Error"]["Code"] == "AuthFailure"
    assert "xx-fake-1" in err.value.response["Error"]["Message"]
    port = int(sandbox.endpoint_url("us-east-1").rsplit(":", 1)[1])
    auth = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/ec2/aws4_request, "
            "SignedHeaders=host, Signature=0")
    for body, code in ((b"garbage=%%%", b"MissingAction"), (b"\xff\xfe\x00", b"MissingAction"),
                       (b"Action=Bogus&Version=2016-11-15", b"InvalidAction")):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("POST", "/", body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Authorization": auth})
        response = conn.getresponse()
        payload = response.read()
        conn.close()
        assert response.status == 400
        assert payload.startswith(b"<?xml") and b"<Code>" + code + b"</Code>" in payload
        assert b"Traceback" not in payload


def test_spot_history_over_a_week(sandbox: Sandbox) -> None:
    ec2 = client(sandbox)
    pages = ec2.get_paginator("describe_spot_price_history").paginate(
        InstanceTypes=["g4dn.xlarge"], ProductDescriptions=["Linux/UNIX"],
        StartTime=WEEK_AGO - dt.timedelta(days=7), EndTime=WEEK_AGO,
        PaginationConfig={"PageSize": 50})
    pages = list(pages)
    items = [i for p in pages for i in p["SpotPriceHistory"]]
    assert len(pages) > 1 and all(p["SpotPriceHistory"] for p in pages)
    zones = {z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]}
    by_az: dict[str, list[float]] = {}
    for item in items:
        assert item["Timestamp"] <= WEEK_AGO
        by_az.setdefault(item["AvailabilityZone"], []).append(float(item["SpotPrice"]))
    # every AZ the catalog prices g4dn.xlarge in; use1-az3 (us-east-1e) does not offer it
    assert set(by_az) == zones - {"us-east-1e"}
    assert all(len(prices) >= 10 for prices in by_az.values())
    assert all(0.1 < p < 0.526 for prices in by_az.values() for p in prices)  # ≤ on-demand
    assert len({round(sum(p) / len(p), 4) for p in by_az.values()}) == len(by_az)
    single = ec2.describe_spot_price_history(
        InstanceTypes=["g4dn.xlarge"], ProductDescriptions=["Linux/UNIX"],
        StartTime=WEEK_AGO - dt.timedelta(days=7), EndTime=WEEK_AGO)
    assert single["SpotPriceHistory"] == items and not single.get("NextToken")
    unknown = ec2.describe_spot_price_history(InstanceTypes=["zz9.mega"])
    assert unknown["SpotPriceHistory"] == []
    ec2.close()


def test_second_sandbox_side_by_side_same_seed_same_market(sandbox: Sandbox) -> None:
    query = {"InstanceTypes": ["m5.large"], "StartTime": WEEK_AGO - dt.timedelta(days=2),
             "EndTime": WEEK_AGO}
    began = time.perf_counter()
    other = Sandbox(seed=7, rtt=0.0, regions=["us-east-1"]).start()
    started = time.perf_counter() - began
    try:
        assert other.pid != sandbox.pid and other.url != sandbox.url
        assert other.endpoint_url("us-east-1") != sandbox.endpoint_url("us-east-1")
        a, b = client(sandbox), client(other)
        assert (a.describe_spot_price_history(**query)["SpotPriceHistory"]
                == b.describe_spot_price_history(**query)["SpotPriceHistory"])
        a.close()
        b.close()
    finally:
        other.stop()
    assert started < 5.0
    assert not psutil.pid_exists(other.pid) or psutil.Process(other.pid).status() == "zombie"
    other.stop()  # idempotent


def test_join_does_not_own(sandbox: Sandbox) -> None:
    joined = Sandbox.join(sandbox.url)
    assert joined.regions == sandbox.regions and not joined.owned
    assert joined.endpoint_url("eu-west-1") == sandbox.endpoint_url("eu-west-1")
    joined.stop()
    assert psutil.pid_exists(sandbox.pid)
    assert sandbox.requests() >= 0  # still answering
    with pytest.raises(UsageError, match="us-east-1"):  # one error type for every region check
        sandbox.endpoint_url("us-eats-1")
    with pytest.raises(SandboxError, match="not valid"):
        Sandbox.join("127.0.0.1:1")


def test_child_exits_when_its_parent_dies() -> None:
    script = ("import os, sys; from geuse_nb.sandbox import Sandbox; "
              "b = Sandbox(regions=['us-east-1'], rtt=0.0).start(); "
              "print(b.pid, flush=True); os._exit(0)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, check=True)
    pid = int(out.stdout.strip())
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(pid).wait(10)
    assert not psutil.pid_exists(pid)


def test_answers_of_its_own_follow_the_signed_region_not_the_port(sandbox: Any) -> None:
    """With AWS_ENDPOINT_URL every region's requests reach one port: the spot market (which
    the sandbox answers itself, not moto) must answer for the region the request is signed
    for, as moto does (runbook 01 on the aws backend met us-east-1's zones in eu-west-1)."""
    import boto3

    client = boto3.client("ec2", region_name="eu-west-1",
                          endpoint_url=sandbox.endpoint_url("us-east-1"),
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    try:
        rows = client.describe_spot_price_history(InstanceTypes=["m5.large"],
                                                  MaxResults=50)["SpotPriceHistory"]
    finally:
        client.close()
    assert rows and all(r["AvailabilityZone"].startswith("eu-west-1") for r in rows)
