"""Named states shared by the engine, the jobs table, the progress views and the report.

One table each, as typed string constants (``StrEnum``): a value compares equal
to its string, so DataFrame columns keep plain strings that read well, while
code names the constant and a typo fails at import, not in a filter that
silently matches nothing (the report once filtered ``"timeout"`` while the
engine emitted ``"timed_out"``).
"""

from __future__ import annotations

import enum


class JobStatus(enum.StrEnum):
    """How one job ended (or where it is)."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"

    @property
    def is_error(self) -> bool:
        """Ended by an error of its own (shown with a suggestion in the report)."""
        return self in (JobStatus.FAILED, JobStatus.TIMED_OUT)

    @property
    def is_final(self) -> bool:
        return self not in (JobStatus.PENDING, JobStatus.RUNNING)


ERROR_STATUSES: frozenset[str] = frozenset(s.value for s in JobStatus if s.is_error)
