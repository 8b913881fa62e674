"""The sandbox's RunInstances fidelity, through plain boto3: capacity per pool with AWS's
InsufficientInstanceCapacity wording, MinCount/MaxCount as AWS counts them, the region taken
from the SigV4 scope, unknown images refused, and spot interruptions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from geuse_nb.errors import SandboxError
from geuse_nb.sandbox import Sandbox

TYPE = "g4dn.xlarge"
ONE_TRY = Config(retries={"mode": "standard", "max_attempts": 1})


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox(seed=5, regions=["us-east-1", "eu-west-1"], rtt=0.0) as sandbox:
        yield sandbox


@pytest.fixture()
def lab(box: Sandbox) -> Iterator[Sandbox]:
    box.clear_capacity()
    yield box
    box.clear_capacity()


def _ec2(box: Sandbox, region: str = "us-east-1", port_of: str | None = None) -> Any:
    return boto3.client("ec2", region, endpoint_url=box.endpoint_url(port_of or region),
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=ONE_TRY)


def _image(box: Sandbox, region: str) -> str:
    ssm = boto3.client("ssm", region, endpoint_url=box.endpoint_url(region),
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])


def _run(ec2: Any, image: str, zone: str, low: int = 1, high: int = 1) -> list[str]:
    answer = ec2.run_instances(ImageId=image, InstanceType=TYPE, MinCount=low, MaxCount=high,
                               Placement={"AvailabilityZone": zone},
                               InstanceMarketOptions={"MarketType": "spot"})
    return [i["InstanceId"] for i in answer["Instances"]]


def test_capacity_is_counted_per_pool_with_aws_wording(lab: Sandbox) -> None:
    ec2, image = _ec2(lab), _image(lab, "us-east-1")
    state = lab.set_capacity({("us-east-1", "us-east-1a", TYPE): 0,
                              ("us-east-1", "us-east-1b", TYPE): 2,
                              ("us-east-1", "us-east-1c", TYPE): 0})
    assert ["us-east-1", "us-east-1b", TYPE, 2] in state["pools"]
    with pytest.raises(ClientError) as refused:
        _run(ec2, image, "us-east-1a")
    error = refused.value.response
    assert error["Error"]["Code"] == "InsufficientInstanceCapacity"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 500  # as AWS: a server error
    message = error["Error"]["Message"]
    assert message.startswith(f"We currently do not have sufficient {TYPE} capacity in the "
                              "Availability Zone you requested (us-east-1a). Our system will "
                              "be working on provisioning additional capacity. You can "
                              f"currently get {TYPE} capacity by not specifying an "
                              "Availability Zone in your request or choosing us-east-1b, ")
    assert "us-east-1c" not in message and "us-east-1a," not in message
    # 1 of 3 asked (MinCount 1): AWS launches what the pool has, moto would launch MinCount
    assert len(_run(ec2, image, "us-east-1b", 1, 3)) == 2
    with pytest.raises(ClientError, match="InsufficientInstanceCapacity"):
        _run(ec2, image, "us-east-1b")
    assert len(_run(ec2, image, "us-east-1d", 1, 3)) == 3  # not named: unlimited, MaxCount
    lab.clear_capacity()
    assert len(_run(ec2, image, "us-east-1a")) == 1


def test_min_count_above_capacity_is_refused_whole(lab: Sandbox) -> None:
    ec2, image = _ec2(lab), _image(lab, "us-east-1")
    lab.set_capacity({("us-east-1", "us-east-1b", TYPE): 2})
    with pytest.raises(ClientError, match="InsufficientInstanceCapacity"):
        _run(ec2, image, "us-east-1b", 3, 3)
    assert len(_run(ec2, image, "us-east-1b", 2, 2)) == 2  # the refusal took nothing


def test_region_comes_from_the_signature_not_the_port(lab: Sandbox) -> None:
    lab.set_capacity({("eu-west-1", "eu-west-1a", TYPE): 0})
    image = _image(lab, "eu-west-1")
    on_wrong_port = _ec2(lab, "eu-west-1", port_of="us-east-1")  # as with AWS_ENDPOINT_URL
    with pytest.raises(ClientError) as refused:
        _run(on_wrong_port, image, "eu-west-1a")
    assert "(eu-west-1a)" in refused.value.response["Error"]["Message"]


def test_dry_run_checks_the_image_but_takes_no_capacity(lab: Sandbox) -> None:
    ec2, image = _ec2(lab), _image(lab, "us-east-1")
    lab.set_capacity({("us-east-1", "us-east-1a", TYPE): 0})
    with pytest.raises(ClientError, match="DryRunOperation"):
        ec2.run_instances(ImageId=image, InstanceType=TYPE, MinCount=1, MaxCount=1,
                          Placement={"AvailabilityZone": "us-east-1a"}, DryRun=True)
    with pytest.raises(ClientError) as refused:
        ec2.run_instances(ImageId="ami-00000000deadbeef", InstanceType=TYPE, MinCount=1,
                          MaxCount=1, DryRun=True)
    assert refused.value.response["Error"] == {
        "Code": "InvalidAMIID.NotFound",
        "Message": "The image id '[ami-00000000deadbeef]' does not exist"}


def test_an_image_of_another_region_is_not_found(lab: Sandbox) -> None:
    with pytest.raises(ClientError, match=r"InvalidAMIID\.NotFound"):
        _run(_ec2(lab, "eu-west-1"), _image(lab, "us-east-1"), "eu-west-1a")
    assert _run(_ec2(lab, "eu-west-1"), _image(lab, "eu-west-1"), "eu-west-1a")


def test_regions_serve_the_latest_images_but_no_ecs_optimised_ones(lab: Sandbox) -> None:
    """The sandbox leaves out moto's 1,284 ECS-optimised images a region (their volumes and
    snapshots were most of a region's start-up: sandbox/_moto_patches.py); the public ones
    and the latest Amazon Linux its SSM parameters name stay."""
    ec2 = _ec2(lab)
    latest = _image(lab, "us-east-1")
    assert [i["ImageId"] for i in ec2.describe_images(ImageIds=[latest])["Images"]] == [latest]
    named = ec2.describe_images(Owners=["amazon"])["Images"]
    assert len(named) > 50 and any(i["Name"].startswith("al2023-ami-2023") for i in named)
    assert not [i["Name"] for i in named if "-ecs-" in i["Name"]]


def test_interrupt_ends_a_spot_instance_as_aws_does(lab: Sandbox) -> None:
    ec2, image = _ec2(lab), _image(lab, "us-east-1")
    victim, other = _run(ec2, image, "us-east-1e", 2, 2)
    done = lab.interrupt([victim])
    assert done == [{"instance_id": victim, "region": "us-east-1",
                     "availability_zone": "us-east-1e", "instance_type": TYPE}]
    found = {i["InstanceId"]: i for r in ec2.describe_instances(
        InstanceIds=[victim, other])["Reservations"] for i in r["Instances"]}
    assert found[victim]["State"]["Name"] == "terminated"
    assert found[victim]["StateReason"] == {
        "Code": "Server.SpotInstanceTermination",
        "Message": "Server.SpotInstanceTermination: Spot instance termination"}
    assert found[other]["State"]["Name"] == "running"
    assert ["us-east-1", "us-east-1e", TYPE, 0] in lab._call("GET", "/_geuse/capacity")["pools"]
    with pytest.raises(ClientError, match="InsufficientInstanceCapacity"):
        _run(ec2, image, "us-east-1e")  # reclaimed: AWS wanted that capacity back


def test_interrupt_refuses_what_it_cannot_interrupt(lab: Sandbox) -> None:
    ec2, image = _ec2(lab), _image(lab, "us-east-1")
    on_demand = ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1,
                                  MaxCount=1)["Instances"][0]["InstanceId"]
    with pytest.raises(SandboxError, match="not a spot instance"):
        lab.interrupt([on_demand])
    with pytest.raises(SandboxError, match="no instance i-0000"):
        lab.interrupt(["i-0000"])
    with pytest.raises(SandboxError, match="instance_ids"):
        lab.interrupt([])


@pytest.mark.parametrize("pools, said", [
    ([("us-east-1", "us-east-1a", TYPE)], "takes a mapping"),
    ({("us-east-1", "us-east-1a"): 1}, "is not \\(region"),
    ({("mars-1", "mars-1a", TYPE): 1}, "not served"),
    ({("us-east-1", "us-east-1a", TYPE): -1}, "is not valid"),
])
def test_bad_capacity_input_is_refused_before_sending(lab: Sandbox, pools: Any,
                                                      said: str) -> None:
    before = lab.requests()
    with pytest.raises(SandboxError, match=said):
        lab.set_capacity(pools)
    assert lab.requests() == before


def test_a_zone_the_region_does_not_have_is_refused(lab: Sandbox) -> None:
    with pytest.raises(SandboxError, match="not an availability zone of us-east-1"):
        lab.set_capacity({("us-east-1", "us-east-1z", TYPE): 1})
