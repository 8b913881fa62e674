"""Reading a launch's instances back: by id or by its ``geuse:launch`` tag, and waiting for a
state. Every read passes ``refresh=True``: the call path caches describe answers, and an
instance's state is exactly what must not come from a cache (only when a read is throttled
may the call path's stale-if-error serve the last answer, which delays a change by a poll).

Waiting polls with ``kit.call`` rather than boto3's waiters, so every request is recorded
and counted like the rest (the waiters call the client directly and sleep 15 s between
polls). It looks before it sleeps: on the sandbox an instance is ``running`` at the first
DescribeInstances, so waiting costs one request and no sleep.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ._outcomes import COLUMNS_INSTANCES
from ._spec import LAUNCH_TAG

if TYPE_CHECKING:
    import pandas as pd

    from ...kit import Kit

log = logging.getLogger(__name__)
WAIT_POLL = 2.0  # seconds between polls of a state wait on AWS (pending → running takes ~10 s)


def instance_row(raw: dict[str, Any], region: str, price: float | None) -> dict[str, Any]:
    """One row of ``Launch.instances`` from a RunInstances/DescribeInstances item."""
    return {"instance_id": raw["InstanceId"], "region": region,
            "availability_zone": raw.get("Placement", {}).get("AvailabilityZone"),
            "instance_type": raw.get("InstanceType"),
            "state": raw.get("State", {}).get("Name"), "price": price,
            "launch_time": raw.get("LaunchTime")}


def describe(kit: Kit, region: str, *, instance_ids: Iterable[str] | None = None,
             launch_id: str | None = None) -> list[dict[str, Any]]:
    """The raw instance items of ``instance_ids`` or of the launch tagged ``launch_id`` in
    ``region`` (always sent: a state is never read from the cache)."""
    params: dict[str, Any] = {}
    if instance_ids is not None:
        params["InstanceIds"] = sorted(instance_ids)
        if not params["InstanceIds"]:
            return []
    if launch_id is not None:
        params["Filters"] = [{"Name": f"tag:{LAUNCH_TAG}", "Values": [launch_id]}]
    found = kit.call("ec2", "describe_instances", region, refresh=True, **params)
    return [i for r in found.get("Reservations", []) for i in r.get("Instances", [])]


def refresh_states(kit: Kit, instances: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """``{instance_id: raw item}`` now, one DescribeInstances per region."""
    out: dict[str, dict[str, Any]] = {}
    for region, ids in instances.groupby("region")["instance_id"]:
        for raw in describe(kit, str(region), instance_ids=list(ids)):
            out[raw["InstanceId"]] = raw
    return out


def wait_for(kit: Kit, instances: pd.DataFrame, states: Iterable[str], *,
             timeout: float = 600.0, poll: float = WAIT_POLL) -> pd.DataFrame:
    """``instances`` with ``state`` updated once every one is in ``states`` (or ``timeout``
    seconds have passed: the frame then shows where each one is)."""
    wanted = set(states)
    frame = instances.copy()
    if frame.empty:
        return frame
    deadline = time.monotonic() + timeout
    while True:
        seen = refresh_states(kit, frame)
        frame["state"] = [seen.get(i, {}).get("State", {}).get("Name", "unknown")
                          for i in frame["instance_id"]]
        if set(frame["state"]) <= wanted or time.monotonic() >= deadline:
            break
        time.sleep(poll)
    late = frame[~frame["state"].isin(wanted)]
    if len(late):
        log.warning("%d instance(s) not %s after %.0f s: %s", len(late), "/".join(wanted),
                    timeout, ", ".join(late["instance_id"]))
    return frame


def empty_instances() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(columns=COLUMNS_INSTANCES)
