"""What to launch, checked before any request: the pools of a ``recommend()`` frame, the
launch options, and the RunInstances parameters of one pool.

Every check raises ``UsageError`` naming the input and what to give instead, so a typo costs
no request and no instance. The image of a pool is read, not guessed: ``image_id=None`` takes
the region's latest Amazon Linux 2023 from the public SSM parameter for the type's
architecture (``describe_instance_types``; the family rule — a ``g`` after the generation
digit, as in ``g5g``/``m7g``/``c6gn`` — only when that read fails). Both reads go through the
kit's cache, so a second launch in the region sends neither (measured on the sandbox: 2
requests for the first pool of a region, 0 after).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ...errors import AwsCallError, UsageError

if TYPE_CHECKING:

    from ...kit import Kit

log = logging.getLogger(__name__)
SSM_IMAGE = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}"
CHOICE_COLUMNS = ("region", "availability_zone", "instance_type")
LAUNCH_TAG = "geuse:launch"
_GRAVITON = re.compile(r"^[a-z]+\d+[a-z]*g[a-z]*\.")  # m7g., c6gn., g5g., t4g., r8gd.


@dataclasses.dataclass(frozen=True)
class Pool:
    """One row of the choice: where to try, in order."""

    order: int
    region: str
    availability_zone: str
    instance_type: str
    price: float | None = None

    @property
    def label(self) -> str:
        return f"{self.order} · {self.instance_type} {self.availability_zone}"


@dataclasses.dataclass(frozen=True)
class LaunchSpec:
    """The checked options of one launch (also what ``watch`` launches replacements with)."""

    image_id: str | None = None
    instance_profile: str | None = None
    key_name: str | None = None
    security_group_ids: tuple[str, ...] = ()
    subnet_ids: Mapping[str, str] | Sequence[str] = ()
    user_data: str | None = None
    tags: Mapping[str, str] = dataclasses.field(default_factory=dict)
    max_price: float | None = None


def check_count(count: object) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise UsageError(f"count={count!r} is not valid",
                         suggestion="give the number of instances to launch, a whole number ≥ 1")
    return count


def pools_of(choice: object) -> list[Pool]:
    """The pools of ``spot.recommend()``'s frame (or any frame with region,
    availability_zone and instance_type columns), in its order."""
    import pandas as pd

    if not isinstance(choice, pd.DataFrame):
        raise UsageError(f"choice must be the DataFrame spot.recommend() returns, not "
                         f"{type(choice).__name__}",
                         suggestion="spot.launch(kit, spot.recommend(ranked), count=1)")
    missing = [c for c in CHOICE_COLUMNS if c not in choice.columns]
    if missing:
        raise UsageError(f"the choice has no column(s) {', '.join(missing)} (it has "
                         f"{', '.join(map(str, choice.columns)) or 'none'})",
                         suggestion="pass spot.recommend()'s frame, or one with columns "
                                    + ", ".join(CHOICE_COLUMNS))
    if not len(choice):
        raise UsageError("the choice is empty: no pool to launch in",
                         suggestion="loosen spot.rank()'s filters or ask recommend() for "
                                    "more fallbacks")
    frame = choice.sort_values("order", kind="stable") if "order" in choice else choice
    prices = frame["current_price"] if "current_price" in frame else [None] * len(frame)
    pools = []
    for i, (region, zone, itype, price) in enumerate(zip(
            frame["region"], frame["availability_zone"], frame["instance_type"], prices,
            strict=True), start=1):
        if not all(isinstance(v, str) and v for v in (region, zone, itype)):
            raise UsageError(f"row {i} of the choice has no region, zone or type: "
                             f"{(region, zone, itype)!r}",
                             suggestion="drop incomplete rows before launching")
        if not zone.startswith(region):
            raise UsageError(f"row {i}: zone {zone!r} is not in region {region!r}",
                             suggestion="pass spot.recommend()'s frame unchanged")
        pools.append(Pool(i, region, zone, itype, None if price is None or pd.isna(price)
                          else float(price)))
    return pools


def _strings(name: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Iterable) or not all(isinstance(v, str) and v for v in items):
        raise UsageError(f"{name}={value!r} is not valid", suggestion="give a list of ids")
    return tuple(items)


def make_spec(*, image_id: object, instance_profile: object, key_name: object,
              security_group_ids: object, subnet_ids: object, user_data: object,
              tags: object, max_price: object) -> LaunchSpec:
    """The launch options checked (``UsageError`` naming the bad one, nothing sent)."""
    if image_id is not None and not (isinstance(image_id, str) and image_id.startswith("ami-")):
        raise UsageError(f"image_id={image_id!r} is not an AMI id",
                         suggestion="give 'ami-…' of the pools' region, or None for the "
                                    "region's latest Amazon Linux 2023")
    for name, value in (("instance_profile", instance_profile), ("key_name", key_name),
                        ("user_data", user_data)):
        if value is not None and not (isinstance(value, str) and value):
            raise UsageError(f"{name}={value!r} is not valid", suggestion="give a string")
    if max_price is not None and (isinstance(max_price, bool)
                                  or not isinstance(max_price, int | float)
                                  or not max_price > 0):
        raise UsageError(f"max_price={max_price!r} is not valid",
                         suggestion="give USD per hour > 0, or None for the on-demand price "
                                    "(AWS's default cap)")
    if tags is not None and (not isinstance(tags, Mapping) or not all(
            isinstance(k, str) and k and isinstance(v, str) for k, v in tags.items())):
        raise UsageError(f"tags={tags!r} is not valid",
                         suggestion="give a {key: value} mapping of strings")
    if tags and LAUNCH_TAG in tags:
        raise UsageError(f"tags may not set {LAUNCH_TAG!r}: launch() sets it",
                         suggestion=f"drop {LAUNCH_TAG!r} from tags")
    subnets: Mapping[str, str] | tuple[str, ...]
    if isinstance(subnet_ids, Mapping):
        subnets = dict(subnet_ids)
        _strings("subnet_ids", list(subnets.values()))
    else:
        subnets = _strings("subnet_ids", subnet_ids)
    return LaunchSpec(image_id=image_id, instance_profile=instance_profile,  # type: ignore[arg-type]
                      key_name=key_name, user_data=user_data,  # type: ignore[arg-type]
                      security_group_ids=_strings("security_group_ids", security_group_ids),
                      subnet_ids=subnets, tags=dict(tags or {}),
                      max_price=None if max_price is None else float(max_price))


def architecture(kit: Kit, region: str, instance_type: str) -> str:
    """``x86_64`` or ``arm64`` of ``instance_type`` (a cached describe_instance_types)."""
    try:
        found = kit.call("ec2", "describe_instance_types", region,
                         InstanceTypes=[instance_type])
        archs = found["InstanceTypes"][0]["ProcessorInfo"]["SupportedArchitectures"]
        return "arm64" if "arm64" in archs and "x86_64" not in archs else "x86_64"
    except (AwsCallError, LookupError) as exc:
        log.debug("architecture of %s from its family (%s)", instance_type, exc)
        return "arm64" if _GRAVITON.match(instance_type) else "x86_64"


def image_for(kit: Kit, spec: LaunchSpec, pool: Pool) -> str:
    """The AMI to launch in ``pool``: the given one, or the region's Amazon Linux 2023."""
    if spec.image_id is not None:
        return spec.image_id
    arch = architecture(kit, pool.region, pool.instance_type)
    found = kit.call("ssm", "get_parameter", pool.region, Name=SSM_IMAGE.format(arch=arch))
    return str(found["Parameter"]["Value"])


def subnet_for(kit: Kit, spec: LaunchSpec, pool: Pool) -> str | None:
    """The subnet of ``spec`` in the pool's AZ (a list is mapped by a cached
    describe_subnets); None when none is given."""
    if isinstance(spec.subnet_ids, Mapping):
        return spec.subnet_ids.get(pool.availability_zone)
    if not spec.subnet_ids:
        return None
    found = kit.call("ec2", "describe_subnets", pool.region, SubnetIds=list(spec.subnet_ids))
    by_zone = {s["AvailabilityZone"]: s["SubnetId"] for s in found.get("Subnets", [])}
    return by_zone.get(pool.availability_zone)


def run_params(kit: Kit, spec: LaunchSpec, pool: Pool, count: int, launch_id: str,
               dry_run: bool) -> dict[str, Any]:
    """RunInstances parameters for up to ``count`` spot instances in ``pool`` (AWS launches
    between MinCount=1 and MaxCount=count, as many as the pool has)."""
    spot: dict[str, Any] = {"SpotInstanceType": "one-time",
                            "InstanceInterruptionBehavior": "terminate"}
    if spec.max_price is not None:
        spot["MaxPrice"] = f"{spec.max_price:.6f}"
    tags = [{"Key": LAUNCH_TAG, "Value": launch_id},
            *({"Key": k, "Value": v} for k, v in spec.tags.items())]
    params: dict[str, Any] = {
        "ImageId": image_for(kit, spec, pool), "InstanceType": pool.instance_type,
        "MinCount": 1, "MaxCount": count, "Placement": {"AvailabilityZone": pool.availability_zone},
        "InstanceMarketOptions": {"MarketType": "spot", "SpotOptions": spot},
        "TagSpecifications": [{"ResourceType": "instance", "Tags": tags}],
    }
    if dry_run:
        params["DryRun"] = True
    subnet = subnet_for(kit, spec, pool)
    if subnet:
        params["SubnetId"] = subnet
    if spec.security_group_ids:
        params["SecurityGroupIds"] = list(spec.security_group_ids)
    if spec.key_name:
        params["KeyName"] = spec.key_name
    if spec.user_data:
        params["UserData"] = spec.user_data
    if spec.instance_profile:
        key = "Arn" if spec.instance_profile.startswith("arn:") else "Name"
        params["IamInstanceProfile"] = {key: spec.instance_profile}
    return params
