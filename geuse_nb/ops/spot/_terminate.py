"""``terminate``: end every instance of a launch, found by its tag, and wait until they are
terminated.

The instances are looked up by the ``geuse:launch=<id>`` tag in every region of the launch's
pools, not only from ``Launch.instances``: replacements ``watch`` made, and instances of a
launch interrupted mid-way, are found too, and nothing of another launch is touched. One
DescribeInstances per region, one TerminateInstances per region that has live ones, then the
state wait (on the sandbox: 1 + 1 + 1 requests for a one-region launch, no sleep).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ...errors import UsageError
from ._instances import describe, empty_instances, instance_row, wait_for
from ._launch import Launch
from ._outcomes import LIVE_STATES

if TYPE_CHECKING:
    import pandas as pd

    from ...kit import Kit

log = logging.getLogger(__name__)
GONE_STATES = frozenset({"terminated"})


def tagged(kit: Kit, launch: Launch) -> pd.DataFrame:
    """Every instance tagged with this launch's id, in the regions of its pools, now."""
    import pandas as pd

    prices = {(p.availability_zone, p.instance_type): p.price for p in launch.pools}
    rows = []
    for region in dict.fromkeys(p.region for p in launch.pools):
        for raw in describe(kit, region, launch_id=launch.id):
            key = (raw.get("Placement", {}).get("AvailabilityZone"), raw.get("InstanceType"))
            rows.append(instance_row(raw, region, prices.get(key)))  # type: ignore[arg-type]
    return pd.DataFrame(rows) if rows else empty_instances()


def terminate(kit: Kit, launch: Launch, *, timeout: float = 600.0) -> pd.DataFrame:
    """Terminate this launch's instances (found by tag), wait until they are terminated and
    return them (instance_id, region, availability_zone, instance_type, state, …)."""
    if not isinstance(launch, Launch):
        raise UsageError(f"terminate takes the Launch spot.launch returned, not "
                         f"{type(launch).__name__}",
                         suggestion="terminate(kit, spot.launch(kit, choice))")
    found = tagged(kit, launch)
    live = found[found["state"].isin(LIVE_STATES | {"stopping", "stopped"})]
    for region, ids in live.groupby("region")["instance_id"]:
        kit.call("ec2", "terminate_instances", str(region), InstanceIds=sorted(ids))
    if len(live):
        found = wait_for(kit, found, GONE_STATES, timeout=timeout)
    log.info("launch %s: %d instance(s) terminated", launch.id, len(live))
    launch.instances = found.copy()
    return found
