"""What a launch attempt can end in and what ``watch`` can see, as typed constants (one table
each, as ``geuse_nb.states``), with the board style of each and the one rule for "is this
error a capacity answer?" (then the next pool is tried; any other error stops the launch).
"""

from __future__ import annotations

import enum

from ...aws.errors import CAPACITY_CODES

COLUMNS_ATTEMPTS = ["order", "region", "availability_zone", "instance_type", "asked",
                    "launched", "outcome", "error_code", "seconds", "message"]
COLUMNS_INSTANCES = ["instance_id", "region", "availability_zone", "instance_type", "state",
                     "price", "launch_time"]
COLUMNS_EVENTS = ["time", "instance_id", "event", "new_instance_id", "pool", "note"]


class AttemptOutcome(enum.StrEnum):
    """How one pool's RunInstances ended (a row of ``Launch.attempts``)."""

    LAUNCHED = "launched"  # every instance asked of this pool
    PARTIAL = "partial"  # some: the rest were asked of the next pool
    NO_CAPACITY = "no_capacity"  # a capacity answer: the next pool was tried
    FAILED = "failed"  # any other error: the launch stopped here
    WOULD_LAUNCH = "would_launch"  # a dry run AWS said would succeed

    @property
    def style(self) -> str:
        """The progress board's style of this outcome."""
        return _STYLES[self]


_STYLES = {AttemptOutcome.LAUNCHED: "ok", AttemptOutcome.PARTIAL: "warn",
           AttemptOutcome.NO_CAPACITY: "warn", AttemptOutcome.FAILED: "bad",
           AttemptOutcome.WOULD_LAUNCH: "ok"}
TRYING = "trying"  # a board row's state while its RunInstances is in flight
BOARD_STYLES = {**{o.value: o.style for o in AttemptOutcome}, TRYING: "busy",
                "not_needed": "dim"}


class WatchEvent(enum.StrEnum):
    """What ``watch`` saw or did (a row of its events frame)."""

    INTERRUPTED = "interrupted"  # AWS reclaimed a spot instance (Server.SpotInstanceTermination)
    REPLACED = "replaced"  # a replacement is running (new_instance_id, pool)
    NO_CAPACITY = "no_capacity"  # no pool could launch a replacement
    REPLACE_FAILED = "replace_failed"  # a replacement hit a non-capacity error (note)
    ENDED = "ended"  # stopped or terminated by someone else: not replaced
    STOPPED = "stopped"  # watch itself ended early (Ctrl-C)


SPOT_INTERRUPTION_REASON = "Server.SpotInstanceTermination"
LIVE_STATES = frozenset({"pending", "running"})


def is_capacity_error(code: str | None, message: str = "") -> bool:
    """True when another pool may succeed: a capacity code (``aws.errors.CAPACITY_CODES``),
    or ``Unsupported`` for the instance type in that zone."""
    if code in CAPACITY_CODES:
        return True
    text = message.lower()
    return code == "Unsupported" and ("availability zone" in text or "instance type" in text)
