"""``launch``: from "where" to "running", failing over along ``recommend()``'s list.

The pools are tried in order, one RunInstances each, with ``MinCount=1, MaxCount=<still
needed>``: AWS launches as many as the pool has, so a pool that gives 1 of 3 is used and the
other 2 are asked of the next pool. A capacity answer (``_outcomes.is_capacity_error``) moves
on; any other answer (a bad image, a denied action, a bad parameter) stops at once, since
another pool would fail the same way, and the launch carries the error with its suggestion.
Each attempt is a row of ``Launch.attempts``, and a progress board shows the pools as they
are tried. Every RunInstances goes through ``kit.call`` (recorded, counted, never cached) and
every instance is tagged ``geuse:launch=<id>``, so ``terminate`` and a rerun find exactly
this launch's instances.

A capacity refusal is an HTTP 500 (as on AWS), so botocore's retry mode asks the same pool
again (``pool_max_attempts``, 3 by default) before the error reaches here. Measured on the
sandbox (RTT 0, count 2, the pick's pool empty, the first fallback with 1, 2 cores shared at
load 6–7): 0.12–0.15 s and 6 requests (3 RunInstances to the empty pool, 2 that launch, 1
describe of the wait) with 3 attempts per call, 0.03–0.09 s and 4 requests with
``pool_max_attempts=1``; a kit's first launch adds the two image reads (moto answers
DescribeInstanceTypes in ~0.6 s): 2.0 s and 8 requests. The pools that answered "no
capacity" are remembered on the ``Launch`` so ``watch`` tries them last.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from ...errors import AwsCallError
from ._instances import empty_instances, instance_row, wait_for
from ._outcomes import BOARD_STYLES, COLUMNS_ATTEMPTS, TRYING, AttemptOutcome, is_capacity_error
from ._spec import LaunchSpec, Pool, check_count, make_spec, pools_of, run_params

if TYPE_CHECKING:
    import pandas as pd

    from ...kit import Kit
    from ...observe.progress import Board

log = logging.getLogger(__name__)
COOLDOWN = 600.0  # seconds a pool that refused for capacity is tried last by watch


@dataclasses.dataclass
class Launch:
    """One launch: its pools, what each attempt gave, and the instances it owns."""

    id: str
    pools: list[Pool]
    spec: LaunchSpec
    count: int
    dry_run: bool
    attempts: pd.DataFrame
    instances: pd.DataFrame
    error: AwsCallError | None = None
    short: dict[tuple[str, str], float] = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """The count was reached (a dry run: every pool tried would launch)."""
        if self.error is not None:
            return False
        if self.dry_run:
            return bool(len(self.attempts)) and bool(
                (self.attempts["outcome"] == AttemptOutcome.WOULD_LAUNCH).all())
        return self.launched >= self.count

    @property
    def launched(self) -> int:
        return len(self.instances)

    @property
    def summary(self) -> str:
        """One sentence: what was launched where, or why not."""
        tried = len(self.attempts)
        if self.dry_run and self.error is None:
            first = self.pools[0]
            return (f"dry run: would launch {self.count} × {first.instance_type} in "
                    f"{first.availability_zone}; {tried} pool(s) passed the permission check, "
                    "nothing was launched")
        where = ", ".join(f"{n} in {z}" for z, n in self.instances.groupby(
            "availability_zone", sort=False).size().items()) if self.launched else "none"
        text = f"launch {self.id}: {self.launched}/{self.count} running ({where}) after " \
               f"{tried} attempt(s)"
        if self.error is not None:
            text += f"; stopped at {self.error.error_code}: {self.error.suggestion}"
        elif not self.ok:
            text += "; every pool of the choice was short"
        return text

    def __repr__(self) -> str:
        return f"<Launch {self.summary}>"

    def pool_order(self, avoid: set[tuple[str, str]] = frozenset(),  # type: ignore[assignment]
                   now: float | None = None) -> list[Pool]:
        """The pools for a replacement: the choice's order, pools short within ``COOLDOWN``
        seconds (and ``avoid``, keyed (AZ, type)) last."""
        now = time.monotonic() if now is None else now
        recent = {k for k, t in self.short.items() if now - t < COOLDOWN} | set(avoid)
        fresh = [p for p in self.pools if (p.availability_zone, p.instance_type) not in recent]
        return fresh + [p for p in self.pools if p not in fresh]


def launch(kit: Kit, choice: pd.DataFrame, count: int = 1, *, image_id: str | None = None,
           instance_profile: str | None = None, key_name: str | None = None,
           security_group_ids: list[str] | None = None,
           subnet_ids: dict[str, str] | list[str] | None = None, user_data: str | None = None,
           tags: dict[str, str] | None = None, max_price: float | None = None,
           dry_run: bool = False, wait: bool = True) -> Launch:
    """Launch ``count`` spot instances along ``choice`` (``spot.recommend()``'s frame: the
    pick, then the fallbacks), failing over on capacity errors; see the module docstring.

    ``subnet_ids`` is ``{AZ: subnet id}`` or a list (mapped to AZs by a describe); ``tags``
    are added to ``geuse:launch=<id>``; ``max_price`` caps the spot price (USD/h, default the
    on-demand price); ``dry_run`` sends ``DryRun=True`` to every pool and launches nothing;
    ``wait`` returns once every instance is running. Returns a ``Launch``; bad input raises
    ``UsageError`` before any request."""
    count = check_count(count)
    pools = pools_of(choice)
    spec = make_spec(image_id=image_id, instance_profile=instance_profile, key_name=key_name,
                     security_group_ids=security_group_ids, subnet_ids=subnet_ids,
                     user_data=user_data, tags=tags, max_price=max_price)
    if not isinstance(dry_run, bool) or not isinstance(wait, bool):
        from ...errors import UsageError

        raise UsageError(f"dry_run={dry_run!r}, wait={wait!r}: both are True or False",
                         suggestion="pass dry_run=True to check permissions without cost")
    result = Launch(id=f"gl-{uuid.uuid4().hex[:10]}", pools=pools, spec=spec, count=count,
                    dry_run=dry_run, attempts=_attempts([]), instances=empty_instances())
    title = f"spot {'dry run' if dry_run else 'launch'} {result.id}: {count} instance(s)"
    with kit.progress.board(title, [p.label for p in pools], styles=BOARD_STYLES) as board:
        fill(kit, result, pools, count, board=board)
        for pool in pools:
            if board.rows[pool.label].state == "queued":
                board.set(pool.label, "not_needed")
    if wait and result.launched:
        result.instances = wait_for(kit, result.instances, {"running"})
    log.info("%s", result.summary)
    return result


def fill(kit: Kit, result: Launch, pools: list[Pool], count: int, *,
         board: Board | None = None) -> list[dict[str, Any]]:
    """Ask ``pools`` in order for ``count`` instances (a dry run asks every pool); append the
    attempts and instances to ``result``; the new instance rows."""
    import pandas as pd

    need = count
    attempts: list[dict[str, Any]] = []
    new: list[dict[str, Any]] = []
    for pool in pools:
        if need <= 0 and not result.dry_run:
            break
        if board is not None:
            board.start(pool.label, TRYING)
        row, got = _attempt(kit, result, pool, max(need, 1))
        attempts.append(row)
        new.extend(got)
        need -= len(got)
        if board is not None:
            board.finish(pool.label, row["outcome"], _note(row))
        if row["outcome"] == AttemptOutcome.FAILED:
            break
    frames = [f for f in (result.attempts, _attempts(attempts)) if len(f)]
    result.attempts = pd.concat(frames, ignore_index=True) if frames else _attempts([])
    if new:
        frames = [f for f in (result.instances, pd.DataFrame(new)) if len(f)]
        result.instances = pd.concat(frames, ignore_index=True)
    return new


def _attempt(kit: Kit, result: Launch, pool: Pool,
             asked: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One RunInstances in ``pool``: its attempts row and the instance rows it launched."""
    began = time.perf_counter()
    row: dict[str, Any] = {"order": pool.order, "region": pool.region,
                           "availability_zone": pool.availability_zone,
                           "instance_type": pool.instance_type, "asked": asked, "launched": 0,
                           "error_code": None, "message": ""}
    got: list[dict[str, Any]] = []
    try:
        params = run_params(kit, result.spec, pool, asked, result.id, result.dry_run)
        answer = kit.call("ec2", "run_instances", pool.region, **params)
    except AwsCallError as exc:
        message = str(exc.args[0]).split(": ", 1)[-1] if exc.args else str(exc)
        row.update(error_code=exc.error_code, message=message)
        if result.dry_run and exc.error_code == "DryRunOperation":
            row.update(outcome=AttemptOutcome.WOULD_LAUNCH,
                       message=f"would launch {asked} × {pool.instance_type}")
        elif is_capacity_error(exc.error_code, message):
            row["outcome"] = AttemptOutcome.NO_CAPACITY
            result.short[(pool.availability_zone, pool.instance_type)] = time.monotonic()
        else:
            row["outcome"] = AttemptOutcome.FAILED
            row["message"] = f"{message} — {exc.suggestion}" if exc.suggestion else message
            result.error = exc
            log.warning("spot launch %s stopped at pool %d: %s", result.id, pool.order, exc)
    else:
        got = [instance_row(i, pool.region, pool.price) for i in answer.get("Instances", [])]
        row.update(launched=len(got), outcome=AttemptOutcome.LAUNCHED if len(got) >= asked
                   else AttemptOutcome.PARTIAL,
                   message=", ".join(g["instance_id"] for g in got))
    row["seconds"] = time.perf_counter() - began
    return row, got


def _note(row: dict[str, Any]) -> str:
    if row["outcome"] in (AttemptOutcome.LAUNCHED, AttemptOutcome.PARTIAL):
        return f"{row['launched']}/{row['asked']} launched"
    return f"{row['error_code']}" if row["error_code"] else ""


def _attempts(rows: list[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(rows, columns=COLUMNS_ATTEMPTS)
    frame["outcome"] = frame["outcome"].astype(object).map(str) if len(frame) else \
        frame["outcome"]
    return frame
