"""``plan()``: which regions, in which order and waves, how many at once, how many may fail.

StackSets' operation preferences, mapped onto one account and many regions:

- ``order``: the regions named go first, in that order (``RegionOrder``); the rest follow as
  given.
- ``waves``: sequential groups of regions (CDK pipelines' waves; StackSets deploys its
  regions one after another the same way). ``None`` is one wave, an int splits the ordered
  regions into that many contiguous waves (smaller ones first, so the first wave is the
  canary), a list of lists names them.
- ``max_concurrent`` and ``failure_tolerance``: a count or a percentage string ``"25%"`` of a
  wave's regions (StackSets' per-region account counts). Percentages round down; concurrency
  is at least 1. The tolerance is per wave: once a wave has more failures than that, no
  further region of it starts, the ones in flight finish, and no later wave starts.
- ``mode``: ``"strict"`` (StackSets' default, ``STRICT_FAILURE_TOLERANCE``) runs
  ``min(max_concurrent, tolerance + 1 - failures so far)`` regions at once, never below 1;
  ``"soft"`` keeps ``max_concurrent`` whatever fails.

Regions are checked against botocore's partition data, so a plan needs no kit; ``run``
also checks that the kit's backend serves them.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ...errors import UsageError, did_you_mean
from ._model import Mode

if TYPE_CHECKING:
    import pandas as pd

_PERCENT = re.compile(r"^\s*(\d{1,3})\s*%\s*$")


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region where CloudFormation exists, in every partition botocore knows."""
    import botocore.session

    session = botocore.session.get_session()
    names: set[str] = set()
    for partition in session.get_available_partitions():
        names.update(session.get_available_regions("cloudformation", partition_name=partition))
    return frozenset(names)


@dataclasses.dataclass(frozen=True)
class Amount:
    """A count, or a percentage of a wave's regions (rounded down)."""

    count: int | None = None
    percent: int | None = None

    def of(self, n: int, *, at_least: int = 0) -> int:
        value = self.count if self.count is not None else (n * (self.percent or 0)) // 100
        return max(at_least, value)

    def __str__(self) -> str:
        return f"{self.percent}%" if self.percent is not None else str(self.count)


def _amount(value: object, name: str, *, minimum: int, total: int) -> Amount:
    if isinstance(value, str):
        match = _PERCENT.match(value)
        if match is None:
            raise UsageError(f"{name}={value!r} is not a count or a percentage",
                             suggestion=f'give an integer or a whole percentage such as "25%" '
                                        f"({minimum}%–100%)")
        percent = int(match.group(1))
        if not minimum <= percent <= 100:
            raise UsageError(f"{name}={value!r} is outside {minimum}%–100%",
                             suggestion=f'give a whole percentage from "{minimum}%" to "100%"')
        return Amount(percent=percent)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{name}={value!r} is not a count or a percentage",
                         suggestion='give an integer or a percentage string such as "25%"')
    if value < minimum:
        raise UsageError(f"{name}={value} is below {minimum}",
                         suggestion=f"give {minimum} or more")
    if name == "failure_tolerance" and value > total:
        raise UsageError(f"failure_tolerance={value} is larger than the {total} regions planned",
                         suggestion=f"give at most {total} (or a percentage such as '25%')")
    return Amount(count=value)


def _region_list(value: object, name: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise UsageError(f"{name}={value!r} is not a list of regions",
                         suggestion="pass a list, e.g. ['us-east-1', 'eu-west-1']")
    names = list(value)
    bad = [r for r in names if not isinstance(r, str)]
    if bad:
        raise UsageError(f"{name} holds {bad[0]!r}, not a region name",
                         suggestion="region names are strings such as 'eu-west-1'")
    dupes = sorted({r for r in names if names.count(r) > 1})
    if dupes:
        raise UsageError(f"{name} names {dupes} more than once",
                         suggestion="list each region once")
    return names


def check_regions(regions: Sequence[str]) -> None:
    """``UsageError`` naming the closest real regions for any unknown name."""
    known = known_regions()
    unknown = [r for r in regions if r not in known]
    if unknown:
        said = "; ".join(f"{r!r}{did_you_mean(r, known)}" for r in unknown)
        raise UsageError(f"unknown region {said}",
                         suggestion="use region names from botocore's partition data, "
                                    "e.g. 'us-east-1', 'eu-west-1'")


@dataclasses.dataclass(frozen=True)
class Plan:
    """An ordered, waved rollout with its concurrency and failure tolerance. Build it with
    :func:`plan`; it changes nothing by itself."""

    waves: tuple[tuple[str, ...], ...]
    max_concurrent: Amount
    failure_tolerance: Amount
    mode: Mode

    @property
    def regions(self) -> list[str]:
        """Every region, in the order they start."""
        return [r for wave in self.waves for r in wave]

    def wave_of(self, region: str) -> int:
        """The 1-based wave that holds ``region``."""
        for number, wave in enumerate(self.waves, 1):
            if region in wave:
                return number
        raise UsageError(f"region {region!r} is not in this plan"
                         + did_you_mean(region, self.regions),
                         suggestion="use one of plan.regions")

    def limits(self, wave: int) -> tuple[int, int]:
        """(max concurrent, failure tolerance) as counts for 1-based ``wave``."""
        size = len(self.waves[wave - 1])
        return (self.max_concurrent.of(size, at_least=1),
                self.failure_tolerance.of(size))

    def concurrency(self, wave: int, failures: int) -> int:
        """How many regions of ``wave`` may run at once after ``failures`` failures
        (0 once the tolerance is exceeded)."""
        most, tolerance = self.limits(wave)
        if failures > tolerance:
            return 0
        if self.mode is Mode.SOFT:
            return most
        return max(1, min(most, tolerance + 1 - failures))

    def frame(self) -> pd.DataFrame:
        """One row per region: order, region, wave, wave_size, max_concurrent,
        failure_tolerance (counts for that wave), start_concurrency, mode."""
        import pandas as pd

        rows: list[dict[str, Any]] = []
        for number, wave in enumerate(self.waves, 1):
            most, tolerance = self.limits(number)
            for region in wave:
                rows.append({"order": len(rows) + 1, "region": region, "wave": number,
                             "wave_size": len(wave), "max_concurrent": most,
                             "failure_tolerance": tolerance,
                             "start_concurrency": self.concurrency(number, 0),
                             "mode": str(self.mode)})
        return pd.DataFrame(rows)

    def describe(self) -> str:
        """One line: regions, waves, concurrency and tolerance."""
        n = len(self.regions)
        return (f"{n} region{'s' * (n != 1)} in {len(self.waves)} "
                f"wave{'s' * (len(self.waves) != 1)}, {self.mode} mode, at most "
                f"{self.max_concurrent} at once, tolerating {self.failure_tolerance} "
                "failure(s) per wave")

    def __repr__(self) -> str:
        waves = " → ".join("[" + ", ".join(w) + "]" for w in self.waves)
        return f"<rollout.Plan {self.describe()}: {waves}>"

    def _repr_html_(self) -> str:
        table = self.frame().to_html(index=False, border=0)
        return (f"<div><b>Rollout plan</b>: {html.escape(self.describe())}"
                f"{table}</div>")


def _split(regions: list[str], n: int) -> list[list[str]]:
    base, extra = divmod(len(regions), n)
    sizes = [base + (i >= n - extra) for i in range(n)]  # larger waves last
    out, at = [], 0
    for size in sizes:
        out.append(regions[at:at + size])
        at += size
    return out


def plan(regions: Sequence[str], *, order: Sequence[str] | None = None,
         waves: int | Sequence[Sequence[str]] | None = None,
         max_concurrent: int | str = 1, failure_tolerance: int | str = 0,
         mode: str = "strict") -> Plan:
    """A rollout plan (see the module docstring for the semantics). Raises ``UsageError``
    for an empty or unknown region list, a bad order or waves, a bad percentage, a
    tolerance larger than the region count, or an unknown mode."""
    names = _region_list(regions, "regions")
    if not names:
        raise UsageError("plan() got no regions",
                         suggestion="pass the regions to roll out to, e.g. ['us-east-1']")
    check_regions(names)
    if order is not None:
        first = _region_list(order, "order")
        stray = [r for r in first if r not in names]
        if stray:
            raise UsageError(f"order names {stray[0]!r}, which is not in regions"
                             + did_you_mean(stray[0], names),
                             suggestion="order may only name planned regions")
        names = first + [r for r in names if r not in first]
    position = {r: i for i, r in enumerate(names)}
    if waves is None:
        groups = [names]
    elif isinstance(waves, int) and not isinstance(waves, bool):
        if not 1 <= waves <= len(names):
            raise UsageError(f"waves={waves} is not between 1 and the {len(names)} regions",
                             suggestion="give a wave count, or a list of lists of regions")
        groups = _split(names, waves)
    else:
        if isinstance(waves, str) or not isinstance(waves, Sequence):
            raise UsageError(f"waves={waves!r} is not valid",
                             suggestion="give None, a wave count, or a list of lists of regions")
        groups = [_region_list(w, f"waves[{i}]") for i, w in enumerate(waves)]
        listed = [r for g in groups for r in g]
        if any(not g for g in groups):
            raise UsageError("waves holds an empty wave", suggestion="drop the empty list")
        twice = sorted({r for r in listed if listed.count(r) > 1})
        stray = [r for r in listed if r not in position]
        missing = [r for r in names if r not in listed]
        if twice or stray or missing:
            what = (f"{twice} in more than one wave" if twice else
                    f"{stray} not in regions" if stray else f"{missing} in no wave")
            raise UsageError(f"waves do not match regions: {what}",
                             suggestion="put every planned region in exactly one wave")
        groups = [sorted(g, key=position.__getitem__) for g in groups]
    try:
        chosen = Mode(str(mode).lower().removesuffix("_failure_tolerance"))
    except ValueError:
        raise UsageError(f"mode={mode!r} is not valid" + did_you_mean(str(mode), list(Mode)),
                         suggestion="use 'strict' (StackSets' default) or 'soft'") from None
    return Plan(
        waves=tuple(tuple(g) for g in groups),
        max_concurrent=_amount(max_concurrent, "max_concurrent", minimum=1, total=len(names)),
        failure_tolerance=_amount(failure_tolerance, "failure_tolerance", minimum=0,
                                  total=len(names)),
        mode=chosen,
    )
