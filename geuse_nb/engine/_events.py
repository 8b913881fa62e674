"""What workers tell the calling thread about a run: four small frozen events.

Workers and drivers ``post`` these to the run's queue; the run loop (``_run.Run``)
matches on their class. They replace positional tuples tagged by a string, so a
misspelt field is an AttributeError at once, not a tuple that unpacks wrongly.
Measured (Python 3.11): creating one costs 0.4 µs (``Ended``) to 1.6 µs (``Started``: a
frozen dataclass sets each field through ``object.__setattr__``) against 0.05 µs for a
tuple, and with ``slots=True`` one takes 40-64 bytes; about 2 µs per job in all, beside
the 20-100 µs a job costs the engine over a bare thread pool.
"""

from __future__ import annotations

import dataclasses

from .results import Outcome


@dataclasses.dataclass(frozen=True, slots=True)
class Started:
    """Attempt ``attempt`` of job ``index`` began (``mono``: monotonic, ``wall``: epoch s)."""

    index: int
    attempt: int
    mono: float
    wall: float


@dataclasses.dataclass(frozen=True, slots=True)
class Retrying:
    """Attempt ``attempt`` of job ``index`` failed with a retryable error; next in ``delay`` s."""

    index: int
    attempt: int
    delay: float


@dataclasses.dataclass(frozen=True, slots=True)
class Ended:
    """A job ended (its ``Outcome`` carries status, value or error, attempts and times)."""

    outcome: Outcome


@dataclasses.dataclass(frozen=True, slots=True)
class DriverDone:
    """The backend's driver stopped; ``error`` set when the backend itself broke."""

    error: BaseException | None = None


Event = Started | Retrying | Ended | DriverDone
