"""The rollout's typed constants and the record of one region.

``RegionState`` is every state a region's row can show, in the live board, the result
table and the metrics ``jobs`` table (there mapped onto :class:`~geuse_nb.states.JobStatus`).
``Action`` is what the dry run found a region needs.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from ...states import JobStatus


class RegionState(enum.StrEnum):
    """Where one region of a rollout is, or how it ended."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    NO_CHANGES = "no_changes"
    FAILED = "failed"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"
    ROLLED_BACK = "rolled_back"
    # dry run (apply=False): what applying would do
    WOULD_CREATE = "would_create"
    WOULD_UPDATE = "would_update"
    WOULD_REPLACE = "would_replace"

    @property
    def job_status(self) -> JobStatus:
        """The metrics ``jobs`` table's status for this state."""
        return _JOB_STATUS.get(self, JobStatus.DONE)

    @property
    def counts_as_failure(self) -> bool:
        """Counts against the failure tolerance."""
        return self is RegionState.FAILED


_JOB_STATUS = {
    RegionState.QUEUED: JobStatus.PENDING,
    RegionState.RUNNING: JobStatus.RUNNING,
    RegionState.FAILED: JobStatus.FAILED,
    RegionState.SKIPPED: JobStatus.SKIPPED,
    RegionState.INTERRUPTED: JobStatus.CANCELLED,
}

# Board colours for the states the progress board does not know by default.
BOARD_STYLES: dict[str, str] = {
    RegionState.INTERRUPTED: "bad", RegionState.WOULD_CREATE: "warn",
    RegionState.WOULD_UPDATE: "warn", RegionState.WOULD_REPLACE: "warn",
    RegionState.QUEUED: "dim", RegionState.ROLLED_BACK: "warn",
}


class Action(enum.StrEnum):
    """What a region needs for its stack to match the template and parameters."""

    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"  # a stack in ROLLBACK_COMPLETE can only be deleted and created again
    NONE = "none"


class Mode(enum.StrEnum):
    """StackSets' concurrency modes."""

    STRICT = "strict"  # STRICT_FAILURE_TOLERANCE: min(max, tolerance + 1), lowered by failures
    SOFT = "soft"  # SOFT_FAILURE_TOLERANCE: max concurrent, whatever fails


@dataclasses.dataclass
class RegionOutcome:
    """One region's row of a :class:`RolloutResult` (times are ``time.time()`` seconds)."""

    region: str
    wave: int
    status: RegionState = RegionState.QUEUED
    action: Action | None = None
    started: float | None = None
    ended: float | None = None
    stack_id: str | None = None
    stack_status: str | None = None
    outputs: dict[str, str] = dataclasses.field(default_factory=dict)
    error: str | None = None
    suggestion: str | None = None
    note: str = ""
    created: bool = False  # this run created the stack (rollback deletes only these)

    @property
    def seconds(self) -> float | None:
        if self.started is None or self.ended is None:
            return None
        return self.ended - self.started

    def row(self) -> dict[str, Any]:
        return {
            "region": self.region, "wave": self.wave, "status": str(self.status),
            "action": None if self.action is None else str(self.action),
            "started": self.started, "ended": self.ended, "seconds": self.seconds,
            "stack_id": self.stack_id, "stack_status": self.stack_status,
            "outputs": dict(self.outputs), "error": self.error, "suggestion": self.suggestion,
            "note": self.note,
        }
