"""RunInstances the way AWS answers it where moto does not: capacity, images, interruptions.

moto launches any number of any type anywhere, accepts any ``ImageId`` and launches
``MinCount`` instances. AWS answers ``InsufficientInstanceCapacity`` (HTTP 500, so botocore's
standard retry mode tries again before it reaches the caller) when a pool (a type in an AZ) is
short, ``InvalidAMIID.NotFound`` for an image the region does not have, and launches as many
as it can between ``MinCount`` and ``MaxCount``. ``CapacityGate`` sits in front of moto's
RunInstances and does the same:

- ``set([(region, az, type, n), ...])``: the instances each named pool can still launch; pools
  not named are unlimited. A request that cannot get ``MinCount`` there is refused with AWS's
  wording, which names the region's other zones that still have capacity; otherwise the body
  is rewritten to ``MinCount = MaxCount = min(MaxCount, left)`` so moto launches what AWS would.
  Dry runs (``DryRun=true``) check the image only: AWS reserves no capacity for them.
- ``interrupt(ids)``: a spot instance ends as AWS ends it (state ``terminated``, reason
  ``Server.SpotInstanceTermination``); with ``reclaim`` its pool's capacity becomes 0, since
  AWS reclaims capacity it needs.

The region is the SigV4 credential scope's (as moto takes it), not the port's: with
``AWS_ENDPOINT_URL`` every region arrives at one port. The check costs ~0.1 ms of the child's
CPU per RunInstances (a dict lookup and one body re-encode); other requests pay nothing.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from .awserror import RequestInfo

log = logging.getLogger(__name__)
Pool = tuple[str, str, str]  # (region, availability zone, instance type)
Refusal = tuple[int, str, str]  # (HTTP status, AWS error code, message)
SPOT_REASON = ("Server.SpotInstanceTermination",
               "Server.SpotInstanceTermination: Spot instance termination")


def capacity_message(instance_type: str, zone: str, others: Sequence[str]) -> str:
    """AWS's InsufficientInstanceCapacity message for ``zone``, naming ``others`` that do have
    capacity (as RunInstances says it, e.g. in botocore's ClientError)."""
    text = (f"We currently do not have sufficient {instance_type} capacity in the Availability "
            f"Zone you requested ({zone}). Our system will be working on provisioning "
            "additional capacity.")
    if others:
        text += (f" You can currently get {instance_type} capacity by not specifying an "
                 f"Availability Zone in your request or choosing {', '.join(others)}.")
    return text


class Ticket:
    """Capacity taken by one admitted RunInstances: given back if moto then fails."""

    def __init__(self, pool: Pool | None, count: int) -> None:
        self.pool = pool
        self.count = count


class CapacityGate:
    """Capacity per pool, image checks and spot interruptions in front of moto (child side)."""

    def __init__(self, zones: Callable[[str], list[str]]) -> None:
        self._zones = zones  # region → its AZ names, in order
        self._left: dict[Pool, int] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ control
    def set(self, rows: Iterable[Sequence[Any]], served: Iterable[str]) -> dict[str, Any]:
        """Replace the capacity table with ``rows`` of (region, az, type, n)."""
        served = set(served)
        table: dict[Pool, int] = {}
        for row in rows:
            if len(row) != 4:
                raise ValueError(f"a capacity row is (region, availability_zone, "
                                 f"instance_type, count), not {row!r}")
            region, zone, itype, count = row
            if region not in served:
                raise ValueError(f"region {region!r} is not served by this sandbox")
            if zone not in self._zones(str(region)):
                raise ValueError(f"{zone!r} is not an availability zone of {region}: "
                                 f"{', '.join(self._zones(str(region)))}")
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError(f"capacity {count!r} of {zone} {itype} is not a whole "
                                 "number ≥ 0")
            table[(str(region), str(zone), str(itype))] = count
        with self._lock:
            self._left = table
        return self.state()

    def route(self, path: str, method: str, payload: dict[str, Any],
              served: Iterable[str]) -> dict[str, Any]:
        """The control endpoints: set, clear or read the pools' capacity; interrupt."""
        if path == "/_geuse/capacity" and method == "POST":
            return self.set(payload.get("pools") or [], served)
        if path == "/_geuse/capacity/clear" and method == "POST":
            return self.clear()
        if path == "/_geuse/capacity":
            return self.state()
        if path == "/_geuse/interrupt" and method == "POST":
            return self.interrupt(payload.get("instance_ids") or [], served,
                                  bool(payload.get("reclaim", True)))
        raise LookupError(path)

    def clear(self) -> dict[str, Any]:
        with self._lock:
            self._left = {}
        return self.state()

    def state(self) -> dict[str, Any]:
        """``{"pools": [[region, az, type, left], ...]}`` (pools not listed are unlimited)."""
        with self._lock:
            return {"pools": [[*pool, n] for pool, n in sorted(self._left.items())]}

    # ------------------------------------------------------------ RunInstances
    def admit(self, region: str, info: RequestInfo,
              environ: dict[str, Any]) -> Refusal | Ticket:
        """Check one RunInstances: a refusal to answer with, or a ticket (capacity taken and
        the request body rewritten to the count AWS would launch) to pass it on to moto."""
        region = info.signed_region or region
        backend = _backend(environ, region)
        image = info.param("ImageId")
        if image is not None and backend is not None and image not in backend.amis:
            return 400, "InvalidAMIID.NotFound", f"The image id '[{image}]' does not exist"
        try:
            low = int(info.param("MinCount") or 1)
            high = int(info.param("MaxCount") or low)
        except ValueError:
            return Ticket(None, 0)  # moto answers the malformed request
        if (info.param("DryRun") or "").lower() == "true" or not 1 <= low <= high:
            return Ticket(None, 0)
        itype = info.param("InstanceType") or "m1.small"
        zone = info.param("Placement.AvailabilityZone") or _subnet_zone(
            backend, info.param("SubnetId") or _first_interface_subnet(info))
        pool = (region, zone, itype) if zone else None
        with self._lock:
            left = self._left.get(pool) if pool else None
            if left is not None and left < low:
                others = [z for z in self._zones(region) if z != zone
                          and self._left.get((region, z, itype), low) >= low]
                return 500, "InsufficientInstanceCapacity", capacity_message(itype, str(zone),
                                                                             others)
            count = high if left is None else min(high, left)
            if pool is not None and left is not None:
                self._left[pool] = left - count
        params = {k: list(v) for k, v in info.params.items()}
        params["MinCount"] = params["MaxCount"] = [str(count)]
        body = urlencode([(k, v) for k, values in params.items() for v in values]).encode()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return Ticket(pool if left is not None else None, count)

    def refund(self, ticket: Ticket) -> None:
        """moto refused an admitted request: its capacity is free again."""
        if ticket.pool is not None and ticket.count:
            with self._lock:
                if ticket.pool in self._left:
                    self._left[ticket.pool] += ticket.count

    # ------------------------------------------------------------ interruptions
    def interrupt(self, instance_ids: Iterable[str], served: Iterable[str],
                  reclaim: bool = True) -> dict[str, Any]:
        """End spot instances as AWS does; ``{"interrupted": [{instance_id, region,
        availability_zone, instance_type}, ...]}``. ValueError for an unknown or on-demand
        instance (nothing is interrupted then)."""
        from moto.ec2.models.instances import StateReason

        wanted = [str(i) for i in instance_ids]
        found = _find_instances(wanted, list(served))
        missing = [i for i in wanted if i not in found]
        if missing:
            raise ValueError(f"no instance {', '.join(missing)} in this sandbox")
        not_spot = [i for i in wanted if getattr(found[i][1], "lifecycle", None) != "spot"]
        if not_spot:
            raise ValueError(f"{', '.join(not_spot)} is not a spot instance: only spot "
                             "instances are interrupted")
        out = []
        for instance_id in wanted:
            region, instance = found[instance_id]
            if instance.state != "terminated":
                instance.terminate()
                instance.state_reason = StateReason(SPOT_REASON[1], SPOT_REASON[0])
                instance._reason = "Service initiated"
            zone = instance.availability_zone
            if reclaim:
                with self._lock:
                    self._left[(region, zone, instance.instance_type)] = 0
            out.append({"instance_id": instance_id, "region": region,
                        "availability_zone": zone, "instance_type": instance.instance_type})
            log.info("sandbox: interrupted %s in %s", instance_id, zone)
        return {"interrupted": out}


def _backend(environ: Mapping[str, Any], region: str) -> Any:
    """moto's EC2 backend of the request's account (its access key, as moto maps it) and
    region (None if moto is absent)."""
    try:
        from moto.ec2.models import ec2_backends
        from moto.iam.models import get_account_id_from
    except ImportError:  # pragma: no cover - the child always has moto
        return None
    auth = str(environ.get("HTTP_AUTHORIZATION", ""))
    access_key = auth.partition("Credential=")[2].partition("/")[0]
    return ec2_backends[get_account_id_from(access_key)][region]


def _subnet_zone(backend: Any, subnet_id: str | None) -> str | None:
    if not subnet_id or backend is None:
        return None
    try:
        return str(backend.get_subnet(subnet_id).availability_zone)
    except Exception:  # an unknown subnet: moto answers InvalidSubnetID.NotFound itself
        return None


def _first_interface_subnet(info: RequestInfo) -> str | None:
    return info.param("NetworkInterface.1.SubnetId")


def _find_instances(wanted: list[str], served: list[str]) -> dict[str, tuple[str, Any]]:
    from moto.ec2.models import ec2_backends

    found: dict[str, tuple[str, Any]] = {}
    for by_region in list(ec2_backends.values()):
        for region, backend in list(by_region.items()):
            if region not in served:
                continue
            for instance in backend.all_instances():
                if instance.id in wanted:
                    found[instance.id] = (region, instance)
    return found


def capacity_rows(pools: Mapping[Any, Any], regions: Sequence[str]) -> list[list[Any]]:
    """JSON-ready rows of ``{(region, az, type): n}`` (client side; SandboxError on bad
    input, before anything is sent)."""
    from ..errors import SandboxError

    if not isinstance(pools, Mapping):
        raise SandboxError(f"set_capacity takes a mapping, not {type(pools).__name__}",
                           suggestion="pass {('us-east-1', 'us-east-1a', 'g4dn.xlarge'): 0}")
    rows = []
    for key, count in pools.items():
        if not (isinstance(key, tuple) and len(key) == 3 and all(isinstance(k, str) and k
                                                                  for k in key)):
            raise SandboxError(f"capacity key {key!r} is not (region, availability_zone, "
                               "instance_type)",
                               suggestion="key each pool by ('us-east-1', 'us-east-1a', "
                                          "'g4dn.xlarge')")
        if key[0] not in regions:
            raise SandboxError(f"region {key[0]!r} is not served by this sandbox",
                               suggestion=f"use one of {', '.join(regions)}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise SandboxError(f"capacity {count!r} of {key} is not valid",
                               suggestion="give the instances the pool can still launch, "
                                          "a whole number ≥ 0")
        rows.append([*key, count])
    return rows
