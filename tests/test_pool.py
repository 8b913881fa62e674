"""ClientPool: pooling, connection reuse, recording, pickling, forking, idle drop, validate."""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import geuse_nb as gn
from geuse_nb.aws.backend import SANDBOX_ACCESS_KEY_PREFIX
from geuse_nb.aws.pool import STATS_COLUMNS, ClientPool
from geuse_nb.errors import AwsCallError, UsageError

REGIONS = ("us-east-1", "eu-west-1", "us-west-2", "ap-southeast-1")


def _regions(sandbox: Any) -> list[str]:
    regions = [r for r in REGIONS if r in sandbox.regions]
    assert len(regions) >= 2, f"sandbox serves too few of {REGIONS}: {sandbox.regions}"
    return regions


@pytest.fixture()
def slow_network(sandbox: Any) -> Any:
    """A few ms of RTT so requests overlap like real ones; restored afterwards."""
    sandbox.set_network(rtt=0.004)
    yield sandbox
    sandbox.set_network(rtt=0.0)


def _totals(sandbox: Any, regions: list[str]) -> tuple[int, int]:
    return (sum(sandbox.requests(r) for r in regions),
            sum(sandbox.connections(r) for r in regions))


def test_one_client_per_service_and_region(kit: Any) -> None:
    pool: ClientPool = kit.pool
    ec2 = pool.client("ec2")
    assert pool.client("ec2", kit.backend.default_region) is ec2
    other = pool.client("ec2", "eu-west-1")
    assert other is not ec2
    assert other.meta.region_name == "eu-west-1"
    assert other.meta.endpoint_url == kit.backend.endpoint_url("eu-west-1")
    assert pool.client("sts") is not ec2
    stats = pool.stats()
    assert list(stats.columns) == list(STATS_COLUMNS)
    assert set(stats["clients_created"]) == {1}
    assert len(stats) == 3


def test_client_config_comes_from_settings(sandbox: Any) -> None:
    with gn.Kit("cfg", backend="sandbox", sandbox=sandbox, pool_max_connections=7,
                pool_connection_timeout=3.0, pool_read_timeout=9.0, pool_max_attempts=3,
                pool_retry_mode="adaptive") as kit:
        config = kit.client("ec2").meta.config
    assert config.max_pool_connections == 7
    assert config.connect_timeout == 3.0
    assert config.read_timeout == 9.0
    assert config.retries == {"mode": "adaptive", "total_max_attempts": 3}
    assert config.tcp_keepalive is True


def test_pooled_clients_reuse_connections_across_threads_and_regions(
        kit: Any, slow_network: Any, caplog: pytest.LogCaptureFixture) -> None:
    sandbox = slow_network
    regions = _regions(sandbox)
    for region in regions:  # warm each region's moto backend
        kit.client("ec2", region).describe_availability_zones()
    req0, conn0 = _totals(sandbox, regions)
    stats0 = kit.pool.stats().set_index("region")
    # interleaved so every region sees all threads at once: without reuse each thread
    # would open a connection per call; with it, at most threads × regions connections
    threads = 4
    work = [r for _ in range(100) for r in regions]

    def one(region: str) -> None:
        kit.client("ec2", region).describe_availability_zones()

    with caplog.at_level(logging.WARNING, logger="urllib3"), ThreadPoolExecutor(threads) as ex:
        list(ex.map(one, work))
    requests, connections = (a - b for a, b in zip(_totals(sandbox, regions), (req0, conn0),
                                                   strict=True))
    assert requests == len(work)
    reuse = 1 - connections / requests
    assert reuse >= 0.95, f"{connections} connections for {requests} requests"
    assert connections <= threads * len(regions)
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]
    # the pool's own count of connections (from urllib3) agrees with the server's
    stats = kit.pool.stats().set_index("region")
    ours = sum(int(stats.loc[r, "connections_opened"] - stats0.loc[r, "connections_opened"])
               for r in regions)
    assert ours == connections
    assert (stats.loc[regions, "reuse_rate"] > 0.9).all()


def test_a_new_client_per_call_reuses_nothing(kit: Any, slow_network: Any) -> None:
    import boto3

    sandbox = slow_network
    region = _regions(sandbox)[1]
    session = boto3.Session(**kit.backend.session_kwargs())
    url = kit.backend.endpoint_url(region)
    session.client("ec2", region_name=region, endpoint_url=url).describe_availability_zones()
    req0, conn0 = sandbox.requests(region), sandbox.connections(region)
    for _ in range(15):
        client = session.client("ec2", region_name=region, endpoint_url=url)
        client.describe_availability_zones()
        client.close()
    requests = sandbox.requests(region) - req0
    connections = sandbox.connections(region) - conn0
    assert requests == 15
    assert connections == requests  # reuse 0 %


def test_blocking_pool_caps_connections_without_discarding(
        sandbox: Any, slow_network: Any, caplog: pytest.LogCaptureFixture) -> None:
    region = _regions(sandbox)[0]
    with gn.Kit("cap", backend="sandbox", sandbox=sandbox, pool_max_connections=2) as kit:
        client = kit.client("sts", region)
        client.get_caller_identity()
        conn0 = sandbox.connections(region)
        with caplog.at_level(logging.WARNING, logger="urllib3"), ThreadPoolExecutor(8) as ex:
            list(ex.map(lambda _: client.get_caller_identity(), range(40)))
        opened = sandbox.connections(region) - conn0
    assert opened <= 1  # one was open already; the cap is 2
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]


def test_every_http_attempt_is_recorded_retries_included(sandbox: Any) -> None:
    region = _regions(sandbox)[2]
    with gn.Kit("retry", backend="sandbox", sandbox=sandbox, pool_max_attempts=3) as kit:
        client = kit.client("sts", region)
        client.get_caller_identity()  # warm
        kit.metrics.reset()
        before = sandbox.requests(region)
        sandbox.set_faults(region=region, throttle_rate=1.0)
        try:  # every attempt throttled: botocore tries 3 times, then gives up
            with pytest.raises(AwsCallError) as caught:
                kit.call("sts", "get_caller_identity", region)
        finally:
            sandbox.clear_faults()
        for _ in range(3):
            client.get_caller_identity()
        sent = sandbox.requests(region) - before
        rows = kit.metrics.frame("api_calls")
    assert caught.value.retryable
    assert sent == 3 + 3
    assert len(rows) == sent
    assert list(rows["attempt"]) == [1, 2, 3, 1, 1, 1]
    assert list(rows["retried"]) == [False, True, True, False, False, False]
    throttled = rows.iloc[:3]
    assert (throttled["http_status"] >= 400).all()
    assert set(throttled["error_code"]) <= {"Throttling", "ThrottlingException",
                                            "RequestLimitExceeded"}
    assert list(rows["http_status"].iloc[3:]) == [200, 200, 200]
    assert rows["error_code"].iloc[3:].isna().all()
    assert set(rows["operation"]) == {"get_caller_identity"}
    assert set(rows["region"]) == {region}
    assert (rows["latency"] > 0).all()
    assert not rows["cache_hit"].any()
    stats = kit.pool.stats().set_index("region")
    assert stats.loc[region, "requests"] == sent + 1  # plus the warm-up call


def test_recording_off_records_nothing_but_still_counts(kit: Any) -> None:
    from geuse_nb.observe.metrics import recording_disabled

    kit.metrics.reset()
    with recording_disabled(kit.metrics):
        kit.client("sts").get_caller_identity()
    assert kit.metrics.frame("api_calls").empty
    assert kit.pool.stats().set_index("service").loc["sts", "requests"] == 1


def test_connection_errors_are_recorded_without_status(sandbox: Any) -> None:
    region = _regions(sandbox)[3 % len(_regions(sandbox))]
    with gn.Kit("down", backend="sandbox", sandbox=sandbox, pool_max_attempts=1,
                pool_connection_timeout=1.0) as kit:
        kit.call("sts", "get_caller_identity", region)  # warm while the region is up
        kit.metrics.reset()
        sandbox.set_faults(region=region, outage="refuse")
        try:
            with pytest.raises(AwsCallError) as caught:
                kit.call("ec2", "describe_availability_zones", region, refresh=True)
        finally:
            sandbox.clear_faults()
        rows = kit.metrics.frame("api_calls")
    err = caught.value
    assert err.retryable
    assert err.region == region
    assert "not reachable" in err.suggestion
    assert len(rows) == 1
    assert rows["http_status"].isna().all()
    assert rows["error_code"].iloc[0] in {"EndpointConnectionError", "ConnectionClosedError",
                                          "ConnectTimeoutError"}


def test_pool_pickles_without_credentials_and_works_after(kit: Any) -> None:
    kit.client("ec2").describe_regions()
    blob = pickle.dumps(kit.pool)
    secret = kit.backend.session_kwargs()["aws_secret_access_key"]
    assert SANDBOX_ACCESS_KEY_PREFIX.encode() not in blob
    assert secret.encode() not in blob
    assert b"testing" not in blob  # the environment's credentials
    copy = pickle.loads(blob)
    try:
        assert len(copy) == 0
        assert copy.client("ec2").describe_regions()["Regions"]
    finally:
        copy.close()


def test_kit_pickled_into_a_subprocess_makes_calls_there(kit: Any) -> None:
    blob = pickle.dumps(kit)
    assert SANDBOX_ACCESS_KEY_PREFIX.encode() not in blob
    assert kit.backend.session_kwargs()["aws_secret_access_key"].encode() not in blob
    assert b"testing" not in blob
    code = (
        "import pickle, sys\n"
        "kit = pickle.loads(sys.stdin.buffer.read())\n"
        "try:\n"
        "    ident = kit.call('sts', 'get_caller_identity')\n"
        "    print(ident['Account'], len(kit.metrics.frame('api_calls')))\n"
        "finally:\n"
        "    kit.close()\n"
    )
    env = {k: v for k, v in os.environ.items()
           if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    before = kit.sandbox.requests()
    out = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True,
                         env=env, timeout=120, check=False)
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    account, rows = out.stdout.decode().split()
    assert account.isdigit()
    assert int(rows) == 1
    assert kit.sandbox.requests() - before >= 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_builds_its_own_clients(kit: Any) -> None:
    parent_client = kit.client("sts")
    parent_client.get_caller_identity()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 1
        try:
            child_client = kit.client("sts")
            ok = child_client is not parent_client and bool(
                child_client.get_caller_identity()["Account"])
            code = 0 if ok else 2
        finally:
            os.write(write, bytes([code]))
            os._exit(code)
    os.close(write)
    status = os.read(read, 1)
    os.close(read)
    os.waitpid(pid, 0)
    assert status == b"\x00"
    assert kit.client("sts") is parent_client


def test_idle_clients_are_dropped_lazily(sandbox: Any) -> None:
    with gn.Kit("idle", backend="sandbox", sandbox=sandbox, pool_idle_timeout=0.25) as kit:
        first = kit.client("sts")
        assert kit.client("sts") is first
        time.sleep(0.4)  # let the client go idle (the timeout itself is what is tested)
        second = kit.client("sts")
        assert second is not first
        assert kit.pool.stats().set_index("service").loc["sts", "clients_created"] == 2
        assert second.get_caller_identity()["Account"]


def test_validate_returns_identity(kit: Any) -> None:
    ident = kit.pool.validate()
    assert ident["account"].isdigit()
    assert ident["arn"].startswith("arn:aws:")


def test_expired_credentials_renew_the_session_once(kit: Any) -> None:
    """``renewing`` is the one expired-credentials rule: rebuild once, try again; a second
    expiry, or any other error, is raised."""
    from botocore.exceptions import ClientError

    def expired() -> ClientError:
        return ClientError({"Error": {"Code": "ExpiredToken", "Message": "expired"}},
                           "GetCallerIdentity")

    clients: list[Any] = []

    def once_expired() -> str:
        clients.append(kit.client("sts"))
        if len(clients) == 1:
            raise expired()
        return str(clients[-1].get_caller_identity()["Account"])

    assert kit.pool.renewing(once_expired).isdigit()
    assert len(clients) == 2 and clients[1] is not clients[0]  # the session was rebuilt

    def always_expired() -> None:
        raise expired()

    with pytest.raises(ClientError, match="ExpiredToken"):
        kit.pool.renewing(always_expired)
    calls = []

    def denied() -> None:
        calls.append(1)
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "X")

    with pytest.raises(ClientError, match="AccessDenied"):
        kit.pool.renewing(denied)
    assert calls == [1]  # not retried


def test_refresh_and_close_rebuild_clients(kit: Any) -> None:
    first = kit.client("sts")
    kit.pool.refresh()
    second = kit.client("sts")
    assert second is not first
    kit.pool.close()
    assert len(kit.pool) == 0
    assert kit.client("sts").get_caller_identity()["Account"]


def test_bad_service_and_region_fail_before_any_request(kit: Any) -> None:
    before = kit.sandbox.requests()
    with pytest.raises(UsageError, match=r"'ec3'.*'ec2'"):
        kit.client("ec3")
    with pytest.raises(UsageError, match=r"'eu-wset-1'.*'eu-west-1'"):
        kit.client("ec2", "eu-wset-1")
    assert kit.sandbox.requests() == before
    assert len(kit.pool) == 0


def test_aws_backend_validates_regions_from_botocore_data_without_network() -> None:
    from geuse_nb.aws.backend import Backend
    from geuse_nb.config import resolve_settings

    pool = ClientPool(resolve_settings(backend="aws"), Backend(kind="aws"))
    try:
        pool.check_region("eu-west-1", "ec2")
        pool.check_region("aws-global", "iam")
        with pytest.raises(UsageError, match=r"'eu-wset-1'.*'eu-west-1'"):
            pool.check_region("eu-wset-1", "ec2")
        with pytest.raises(UsageError, match=r"'ec3'.*'ec2'"):
            pool.client("ec3", "eu-west-1")
        assert len(pool) == 0
    finally:
        pool.close()


def test_aws_scope_is_the_account_and_follows_a_credential_switch(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """On the aws backend, cache entries are scoped by the account STS reports (moto's
    in-process AWS answers here, nothing leaves the process), asked again after refresh."""
    from moto import mock_aws

    from geuse_nb.aws.backend import Backend
    from geuse_nb.config import resolve_settings

    with mock_aws():
        pool = ClientPool(resolve_settings(backend="aws"), Backend(kind="aws", profile=None))
        try:
            assert pool.scope() == "aws:123456789012:default"
            monkeypatch.setenv("MOTO_ACCOUNT_ID", "111122223333")
            assert pool.scope() == "aws:123456789012:default"  # asked once per process
            pool.refresh()  # e.g. after credentials of another account were loaded
            assert pool.scope() == "aws:111122223333:default"
        finally:
            pool.close()
