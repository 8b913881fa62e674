"""Many accounts: calls and fan-outs through assumed roles, against the sandbox, with the
organization, its accounts and their resources made by plain boto3 (not by the kit).

One sandbox for the module. Its first test runs before any organization exists (so
``accounts="all"`` cannot be read); the ``org`` fixture then creates one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

import geuse_nb as gn
from geuse_nb.errors import UsageError

REGIONS = ["us-east-1", "eu-west-1", "us-west-2", "ap-southeast-2"]
ROLE = "OrganizationAccountAccessRole"


@pytest.fixture(scope="module")
def box() -> Iterator[Any]:
    from geuse_nb.sandbox import Sandbox

    with Sandbox(seed=11, rtt=0.002, regions=REGIONS) as sandbox:
        yield sandbox


def _plain(box: Any, service: str, region: str, **credentials: Any) -> Any:
    credentials = credentials or {"aws_access_key_id": "plain", "aws_secret_access_key": "x"}
    return boto3.client(service, region_name=region, endpoint_url=box.endpoint_url(region),
                        **credentials)


_CREDENTIALS: dict[str, dict[str, Any]] = {}


def _as_role(box: Any, account: str, service: str, region: str) -> Any:
    """A plain boto3 client running as ``account``'s role (assumed once per account)."""
    if account not in _CREDENTIALS:
        sts = _plain(box, "sts", "us-east-1")
        _CREDENTIALS[account] = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{ROLE}",
                                                RoleSessionName="plain-boto3")["Credentials"]
    creds = _CREDENTIALS[account]
    return _plain(box, service, region, aws_access_key_id=creds["AccessKeyId"],
                  aws_secret_access_key=creds["SecretAccessKey"],
                  aws_session_token=creds["SessionToken"])


@pytest.fixture(scope="module")
def org(box: Any) -> list[str]:
    """Eight member accounts made with plain boto3 Organizations calls; account i gets i
    extra VPCs in region i % 4, through its own assumed role."""
    client = _plain(box, "organizations", "us-east-1")
    client.create_organization(FeatureSet="ALL")
    ids = [client.create_account(Email=f"m{i}@example.com", AccountName=f"member-{i}")
           ["CreateAccountStatus"]["AccountId"] for i in range(8)]
    for i, account in enumerate(ids):
        ec2 = _as_role(box, account, "ec2", REGIONS[i % 4])
        for _ in range(i % 3 + 1):
            ec2.create_vpc(CidrBlock="10.20.0.0/16")
    return ids


@pytest.fixture()
def kit(box: Any) -> Iterator[Any]:
    with gn.Kit("accounts", backend="sandbox", sandbox=box) as k:
        yield k


def test_all_without_an_organization_says_to_pass_the_ids(kit: Any, box: Any) -> None:
    with pytest.raises(UsageError) as caught:
        kit.fanout("ec2", "describe_vpcs", REGIONS, accounts="all")
    assert "pass the account ids" in caught.value.suggestion


def test_bad_accounts_and_roles_fail_before_any_request(kit: Any, box: Any) -> None:
    box.reset_counters()
    cases = [
        lambda: kit.call("ec2", "describe_vpcs", account="12345"),
        lambda: kit.call("ec2", "describe_vpcs", account=111111111111),
        lambda: kit.records("ec2", "describe_vpcs", account="11111111111a"),
        lambda: kit.client("ec2", "us-east-1", account="1" * 13),
        lambda: kit.fanout("ec2", "describe_vpcs", REGIONS, accounts=[]),
        lambda: kit.fanout("ec2", "describe_vpcs", REGIONS, accounts=["111111111111", "x"]),
        lambda: kit.fanout("ec2", "describe_vpcs", REGIONS, accounts=["111111111111"],
                           role_name=""),
        lambda: kit.call("ec2", "describe_vpcs", account="111111111111", role_name="  "),
        lambda: kit.call("ec2", "describe_vpcs", role_name="Admin"),  # no account given
    ]
    for case in cases:
        with pytest.raises(UsageError) as caught:
            case()
        assert caught.value.suggestion
    assert box.requests() == 0


def test_fanout_over_all_accounts_equals_plain_boto3_per_account_and_region(
        kit: Any, box: Any, org: list[str]) -> None:
    frame = kit.fanout("ec2", "describe_vpcs", REGIONS, accounts="all")
    assert not frame.attrs["failed"]
    assert frame.columns[0] == "account"
    listed = kit.accounts()
    assert set(org) <= set(listed["account_id"]) and (listed["status"] == "ACTIVE").all()
    assert set(frame["account"]) == set(listed["account_id"])
    got = frame.groupby(["account", "region"]).size().to_dict()
    for account in org:
        for region in REGIONS:
            ec2 = _as_role(box, account, "ec2", region)
            vpcs = ec2.describe_vpcs()["Vpcs"]
            assert got[(account, region)] == len(vpcs), (account, region)
            mine = frame[(frame["account"] == account) & (frame["region"] == region)]
            assert set(mine["VpcId"]) == {v["VpcId"] for v in vpcs}


def test_one_assume_role_per_account_and_a_rerun_sends_nothing(
        kit: Any, box: Any, org: list[str]) -> None:
    box.reset_counters()
    ops = ["describe_vpcs", "describe_security_groups"]
    first = kit.fanout("ec2", ops, REGIONS, accounts=org)
    assert not first.attrs["failed"] and len(first)
    counts = box.counters_frame()
    assumed = counts[counts["operation"] == "AssumeRole"]["requests"].sum()
    assert assumed == 8
    assert counts[counts["service"] == "ec2"]["requests"].sum() == 8 * 4 * 2
    box.reset_counters()
    again = kit.fanout("ec2", ops, REGIONS, accounts=org)
    assert box.requests() == 0
    assert again.equals(first)
    calls = kit.metrics.frame("api_calls")
    assumes = calls[calls["operation"] == "assume_role"]
    assert sorted(assumes["account"]) == sorted(org)  # each AssumeRole recorded, by account
    assert set(calls[calls["service"] == "ec2"]["account"]) == set(org)
    section = kit.report().section("accounts")
    rows = {r["account"]: r for r in section.data}
    assert set(rows) >= set(org)
    assert all(rows[a]["requests"] == 4 * 2 + 1 and rows[a]["cache hits"] == 8 for a in org)


def test_calls_in_one_account_see_that_accounts_resources(
        kit: Any, box: Any, org: list[str]) -> None:
    account, region = org[5], REGIONS[5 % 4]
    own = kit.call("ec2", "describe_vpcs", region)
    theirs = kit.call("ec2", "describe_vpcs", region, account=account)
    plain = _as_role(box, account, "ec2", region).describe_vpcs()["Vpcs"]
    assert {v["VpcId"] for v in theirs["Vpcs"]} == {v["VpcId"] for v in plain}
    assert not {v["VpcId"] for v in own["Vpcs"]} & {v["VpcId"] for v in plain}
    frame = kit.records("ec2", "describe_vpcs", region, account=account)
    assert set(frame["VpcId"]) == {v["VpcId"] for v in plain}
    client = kit.client("ec2", region, account=account)
    assert client is kit.client("ec2", region, account=account)  # pooled per account
    assert len(client.describe_vpcs()["Vpcs"]) == len(plain)



def test_close_closes_the_clients_kit_client_made_for_an_account(
        box: Any, org: list[str]) -> None:
    from geuse_nb.aws.accounts import role_target
    from geuse_nb.aws.assumed import account_pool

    kit = gn.Kit("closing", backend="sandbox", sandbox=box)
    client = kit.client("ec2", REGIONS[0], account=org[0])
    client.describe_vpcs()  # a connection of the role's own session
    pool = account_pool(kit.pool, role_target(org[0], kit.settings, None, None))
    assert len(pool) == 1
    kit.close()
    assert len(pool) == 0  # its client was closed with the kit, not left for the GC


def test_a_denied_account_is_one_failure_and_the_others_complete(
        box: Any, org: list[str]) -> None:
    denied = org[2]
    box.deny_assume_role([denied])
    try:
        with gn.Kit("denied", backend="sandbox", sandbox=box) as kit:
            box.reset_counters()
            frame = kit.fanout("ec2", ["describe_vpcs", "describe_subnets"], REGIONS,
                               accounts=org[:5])
            counts = box.counters_frame()
            failed = frame.attrs["failed"]
            assert len(failed) == 1
            row = failed[0]
            assert row["account"] == denied and row["jobs"] == len(REGIONS) * 2
            assert f"arn:aws:iam::{denied}:role/{ROLE}" in row["error"]
            assert ROLE in row["suggestion"] and denied in row["suggestion"]
            assert set(frame["account"]) == set(org[:5]) - {denied}
            assert counts[counts["operation"] == "AssumeRole"]["requests"].sum() == 5
            box.allow_assume_role([denied])
            healed = kit.fanout("ec2", "describe_vpcs", REGIONS, accounts=[denied])
            assert not healed.attrs["failed"] and set(healed["account"]) == {denied}
    finally:
        box.allow_assume_role([denied])



def test_a_call_after_a_refusal_tries_the_role_again(box: Any, org: list[str]) -> None:
    from geuse_nb.aws.assumed import AssumeRoleFailed

    denied = org[3]
    box.deny_assume_role([denied])
    try:
        with gn.Kit("refused", backend="sandbox", sandbox=box) as kit:
            with pytest.raises(AssumeRoleFailed):
                kit.call("ec2", "describe_vpcs", REGIONS[0], account=denied)
            box.allow_assume_role([denied])  # the trust policy is fixed
            box.reset_counters()
            answer = kit.call("ec2", "describe_vpcs", REGIONS[0], account=denied)
            counts = box.counters_frame()
            assert "Vpcs" in answer
            assert counts[counts["operation"] == "AssumeRole"]["requests"].sum() == 1
    finally:
        box.allow_assume_role([denied])


def test_sandbox_makes_accounts_and_checks_ids(box: Any, org: list[str]) -> None:
    made = box.create_accounts(["extra-a", "extra-b"])
    assert [m["name"] for m in made] == ["extra-a", "extra-b"]
    assert box.create_accounts(["extra-a"]) == made[:1]  # existing names are returned
    listed = _plain(box, "organizations", "us-east-1").list_accounts()["Accounts"]
    assert {m["account_id"] for m in made} <= {a["Id"] for a in listed}
    with pytest.raises(ValueError):
        box.deny_assume_role(["12"])


def test_external_id_role_name_and_the_default_kit_shortcuts(box: Any, org: list[str]) -> None:
    from geuse_nb.aws.assumed import AssumeRoleFailed

    account = org[1]
    with gn.Kit("shortcuts", backend="sandbox", sandbox=box) as kit:
        box.reset_counters()
        got = kit.call("ec2", "describe_vpcs", REGIONS[1], account=account,
                       role_name="Auditor", external_id="ext-42")
        plain = _as_role(box, account, "ec2", REGIONS[1]).describe_vpcs()["Vpcs"]
        assert {v["VpcId"] for v in got["Vpcs"]} == {v["VpcId"] for v in plain}
        counts = box.counters_frame()
        assert counts[counts["operation"] == "AssumeRole"]["requests"].sum() == 1
        box.deny_assume_role([account])
        try:
            with pytest.raises(AssumeRoleFailed) as caught:  # a role not assumed yet: refused
                kit.call("ec2", "describe_vpcs", REGIONS[1], account=account,
                         role_name="Reader")
        finally:
            box.allow_assume_role([account])
        assert account in caught.value.suggestion and "Reader" in caught.value.suggestion
    previous = gn.init("default-accounts", backend="sandbox", sandbox=box)
    try:
        frame = gn.fanout("ec2", "describe_vpcs", REGIONS[:2], accounts=[account])
        assert set(frame["account"]) == {account}
        listed = gn.records("ec2", "describe_vpcs", REGIONS[1], account=account)
        assert listed["VpcId"].notna().all()
        assert gn.client("ec2", REGIONS[1], account=account).describe_vpcs()["Vpcs"]
    finally:
        previous.close()


def test_waste_price_table_rebuilds_identically(tmp_path: Any) -> None:
    import runpy
    from pathlib import Path

    data = Path(__file__).resolve().parents[1] / "data"
    module = runpy.run_path(str(data / "build_waste_prices.py"))
    out = tmp_path / "waste_prices.csv"
    assert module["build"](data / "spot_market.csv", out) == 17
    assert out.read_bytes() == (data / "waste_prices.csv").read_bytes()
