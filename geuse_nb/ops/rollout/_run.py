"""``run()``: a plan applied (or dry-run) region by region, with a live board and rollback.

Order of work, so that nothing is written by accident or before bad input is caught:

1. Inputs are checked (``UsageError``): the plan, stack name, template (text or a path;
   parameters it does not declare, or required ones not given), ``on_failure``, ``gate``,
   ``bake_seconds``, and every region against the kit's backend.
2. ``ValidateTemplate`` in every region (reads, in parallel). A template AWS rejects raises
   that region's ``AwsCallError`` with AWS's message; nothing has been written.
3. ``apply=False``: ``DescribeStacks``/``GetTemplate`` per region say create, update,
   replace or no changes; still no write. ``apply=True``: wave by wave under the plan's
   concurrency and tolerance (see ``_scheduler``), each region created, updated or left
   alone, then polled. A gate or a bake check may stop the next wave.
4. When the rollout stopped (tolerance exceeded, gate, bake) and ``on_failure="rollback"``,
   the stacks this run created are deleted, and only those: a stack that existed before
   is never touched.

Ctrl-C: no new region starts; regions in flight stop waiting (their stacks carry on in
CloudFormation) and are marked ``interrupted`` with their last stack status; every
region's row is final and recorded once; the worker threads are joined. The result then
travels on the ``RolloutInterrupted`` (a ``KeyboardInterrupt``) that is raised, unlike the
engine's ``pmap``, which returns its partial results: a map's finished values live only in
memory, while a rollout's work is in AWS, and a cell that went on after Ctrl-C might write.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ...errors import AwsCallError, UsageError
from . import _deploy
from ._capabilities import check as check_capabilities
from ._model import BOARD_STYLES, RegionOutcome, RegionState
from ._plan import Plan
from ._result import RolloutResult, record_jobs
from ._scheduler import Scheduler
from ._template import load

if TYPE_CHECKING:
    import os

    from ...kit import Kit

log = logging.getLogger(__name__)
READS_AT_ONCE = 16  # regions validated / inspected at once
_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
ON_FAILURE = ("stop", "rollback")


class RolloutInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``run``: ``.result`` says what state every region is in."""

    def __init__(self, result: RolloutResult) -> None:
        self.result = result
        flying = result.regions(RegionState.INTERRUPTED)
        super().__init__(
            f"{result.describe()}. In flight when interrupted: {', '.join(flying) or 'none'}"
            " (their stacks carry on in CloudFormation: run again to finish, or roll back). "
            "The table is RolloutInterrupted.result.frame().")


def _check(plan: object, stack_name: object, parameters: object, apply: object,
           on_failure: object, gate: object, bake_seconds: object) -> None:
    if not isinstance(plan, Plan):
        raise UsageError(f"plan={plan!r} is not a rollout plan",
                         suggestion="build one with rollout.plan(regions, ...)")
    if not isinstance(stack_name, str) or not _STACK_NAME.match(stack_name):
        raise UsageError(f"stack_name={stack_name!r} is not a valid stack name",
                         suggestion="start with a letter; letters, digits and '-' only; "
                                    "at most 128 characters")
    if parameters is not None and not isinstance(parameters, Mapping):
        raise UsageError(f"parameters={parameters!r} is not a mapping",
                         suggestion="pass {'Environment': 'prod', ...}")
    if not isinstance(apply, bool):
        raise UsageError(f"apply={apply!r} is not True or False",
                         suggestion="apply=False (the default) is the dry run")
    if on_failure not in ON_FAILURE:
        raise UsageError(f"on_failure={on_failure!r} is not valid",
                         suggestion="use 'stop' or 'rollback'")
    if gate is not None and not callable(gate):
        raise UsageError(f"gate={gate!r} is not callable",
                         suggestion="pass a function of the wave's RolloutResult that "
                                    "returns True to go on")
    if isinstance(bake_seconds, bool) or not isinstance(bake_seconds, (int, float)) \
            or not math.isfinite(bake_seconds) or bake_seconds < 0:
        raise UsageError(f"bake_seconds={bake_seconds!r} is not valid",
                         suggestion="give seconds ≥ 0")


def run(kit: Kit, plan: Plan, template: str | os.PathLike[str], *, stack_name: str,
        parameters: Mapping[str, Any] | None = None, apply: bool = False,
        on_failure: str = "stop", gate: Callable[[RolloutResult], Any] | None = None,
        bake_seconds: float = 0,
        capabilities: Sequence[str] | None = None) -> RolloutResult:
    """Dry-run (default) or apply ``plan`` for one stack; see the module docstring.

    ``capabilities``: ``None`` sends what the template needs (IAM resources →
    ``CAPABILITY_IAM``, named ones → ``CAPABILITY_NAMED_IAM``, macros →
    ``CAPABILITY_AUTO_EXPAND``); a list is sent as given. The result shows them."""
    _check(plan, stack_name, parameters, apply, on_failure, gate, bake_seconds)
    given = check_capabilities(capabilities)
    tpl = load(template)
    values = tpl.parameters(parameters)
    for region in plan.regions:
        kit.pool.check_region(region, "cloudformation")
    return _Run(kit, plan, tpl, stack_name, values, apply=apply, on_failure=on_failure,
                gate=gate, bake_seconds=float(bake_seconds),
                capabilities=tpl.needs if given is None else given,
                detected=given is None).go()


class _Run:
    """One call of ``run``: its outcomes, board, workers and scheduler."""

    def __init__(self, kit: Kit, plan: Plan, tpl: Any, stack_name: str,
                 values: dict[str, str], *, apply: bool, on_failure: str,
                 gate: Callable[[RolloutResult], Any] | None, bake_seconds: float,
                 capabilities: tuple[str, ...] = (), detected: bool = True) -> None:
        self.kit = kit
        self.plan = plan
        self.apply = apply
        self.on_failure = on_failure
        self.gate = gate
        self.bake_seconds = bake_seconds
        self.stop = threading.Event()
        self.outcomes = {r: RegionOutcome(r, plan.wave_of(r)) for r in plan.regions}
        self.result = RolloutResult(stack_name, plan, apply, list(self.outcomes.values()),
                                    capabilities=capabilities,
                                    capabilities_detected=detected)
        self.board: Any = None
        self.dep = _deploy.Deployment(kit=kit, stack_name=stack_name, template=tpl,
                                      parameters=values, run_id=uuid.uuid4().hex[:12],
                                      stop=self.stop, note=self._note,
                                      capabilities=capabilities)

    # ------------------------------------------------------------ board
    def _note(self, region: str, state: str, note: str = "") -> None:
        if self.board is not None:
            self.board.set(region, str(state), note)

    def _begin(self, region: str, note: str) -> RegionOutcome:
        out = self.outcomes[region]
        out.started = time.time()
        out.status = RegionState.RUNNING
        self.board.start(region, str(RegionState.RUNNING), note)
        return out

    def _skip(self, regions: list[str], why: str) -> None:
        for region in regions:
            out = self.outcomes[region]
            if out.status is RegionState.QUEUED:
                out.status, out.note = RegionState.SKIPPED, why
                self.board.set(region, str(out.status), why)

    # ------------------------------------------------------------ work per region
    def _guarded(self, out: RegionOutcome, body: Callable[[], None], *,
                 timed: bool = True) -> bool:
        """Run ``body`` for one region; returns True when the region failed. ``timed``:
        the region's ``ended`` is set (a rollback leaves the deploy's times as they are)."""
        try:
            body()
        except _deploy.Interrupted as stop:
            out.status = RegionState.INTERRUPTED
            out.stack_status = stop.stack_status or out.stack_status
            out.note = (f"in flight when interrupted ({out.stack_status or 'no stack yet'}); "
                        "CloudFormation carries on" if stop.wrote else
                        "interrupted before any write")
        except AwsCallError as exc:
            out.status = RegionState.FAILED
            out.error, out.suggestion = str(exc.args[0]), exc.suggestion or None
        except Exception as exc:  # a bug must fail this region, not hang the run
            log.warning("rollout: %s failed unexpectedly", out.region, exc_info=True)
            out.status = RegionState.FAILED
            out.error = f"{type(exc).__name__}: {exc}"
            out.suggestion = "an unexpected error: see the log for the traceback"
        finally:
            if timed:
                out.ended = time.time()
            self.board.finish(out.region, str(out.status), out.error or out.note)
        return out.status.counts_as_failure

    def _validate(self, region: str) -> bool:
        out = self._begin(region, "ValidateTemplate")

        def body() -> None:
            _deploy.validate(self.dep, region)
            out.status, out.note = RegionState.QUEUED, "template valid"

        failed = self._guarded(out, body)
        if not failed and out.status is RegionState.QUEUED:  # back in the queue to deploy
            out.started = out.ended = None
            self.board.set(region, str(RegionState.QUEUED), "template valid")
        return failed

    def _dry_run(self, region: str) -> bool:
        out = self._begin(region, "DescribeStacks")
        return self._guarded(out, lambda: _deploy.dry_run(self.dep, region, out))

    def _apply(self, region: str) -> bool:
        out = self._begin(region, "DescribeStacks")
        return self._guarded(out, lambda: _deploy.apply(self.dep, region, out))

    def _roll_back(self, region: str) -> bool:
        out = self.outcomes[region]
        self.board.start(region, str(RegionState.RUNNING), "rolling back: DeleteStack")
        was = out.status
        began = time.monotonic()

        def body() -> None:
            _deploy.delete(self.dep, region, str(out.stack_id), out)
            out.outputs = {}
            took = f" in {time.monotonic() - began:.1f} s"
            if was is RegionState.DONE:
                out.status = RegionState.ROLLED_BACK
                out.note = "stack deleted by the rollback" + took
            else:
                out.status = was
                out.note = "its failed stack was deleted by the rollback" + took

        try:
            return self._guarded(out, body, timed=False)
        finally:
            if out.status is RegionState.FAILED and was is not RegionState.FAILED:
                out.error = f"rollback failed: {out.error}"

    # ------------------------------------------------------------ the run
    def go(self) -> RolloutResult:
        regions = self.plan.regions
        title = f"{'rollout' if self.apply else 'dry run'} {self.dep.stack_name}"
        most = max(self.plan.limits(w)[0] for w in range(1, len(self.plan.waves) + 1))
        workers = min(len(regions), max(READS_AT_ONCE, most))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="geuse-rollout")
        sched = Scheduler(self.plan, pool, self.stop)
        reads = min(READS_AT_ONCE, len(regions))
        interrupted = False
        invalid: list[str] = []
        self.board = self.kit.progress.board(title, regions, initial=str(RegionState.QUEUED),
                                             styles=BOARD_STYLES)
        try:
            sched.run_wave(0, regions, self._validate, limit=lambda _: reads)
            invalid = self.result.regions(RegionState.FAILED)
            if invalid:
                self._skip(regions, "not started: the template failed validation")
            elif not self.apply:
                sched.run_wave(0, regions, self._dry_run, limit=lambda _: reads)
            else:
                self._waves(sched)
                if self.result.stopped and self.on_failure == "rollback":
                    self._rollback(sched)
        except KeyboardInterrupt:
            interrupted = True
            self.stop.set()
            sched.drain(timeout=30.0)
        finally:
            self.stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            self._finish(interrupted, sched)
        if invalid:
            first = self.outcomes[invalid[0]]
            raise AwsCallError(first.error or "the template failed validation",
                               service="cloudformation", operation="validate_template",
                               region=first.region, error_code="ValidationError",
                               suggestion=first.suggestion
                               or "fix the template; nothing was written")
        if interrupted:
            raise RolloutInterrupted(self.result)
        return self.result

    def _waves(self, sched: Scheduler) -> None:
        last = len(self.plan.waves)
        for number, wave in enumerate(self.plan.waves, 1):
            if self.result.stopped:
                self._skip(list(wave), f"not started: {self.result.stopped}")
                continue
            report = sched.run_wave(number, wave, self._apply)
            self.result.peak_concurrency[number] = report.peak
            if report.exceeded:
                tolerance = self.plan.limits(number)[1]
                self.result.stopped = (f"failure tolerance exceeded in wave {number} "
                                       f"({report.failures} failed, {tolerance} tolerated)")
                self._skip(report.not_started, f"not started: {self.result.stopped}")
                continue
            if number < last:
                self._between_waves(number)

    def _between_waves(self, number: int) -> None:
        wave = [o for o in self.result.outcomes if o.wave == number]
        if self.bake_seconds > 0:
            for out in wave:
                self.board.set(out.region, str(out.status), f"baking {self.bake_seconds:g} s")
            if self.stop.wait(self.bake_seconds):
                return
            for out in wave:
                if out.stack_id and out.status in (RegionState.DONE, RegionState.NO_CHANGES):
                    stack = _deploy.describe(self.dep, out.region, out.stack_id) or {}
                    status = stack.get("StackStatus", "DELETE_COMPLETE")
                    self.board.set(out.region, str(out.status), f"baked: {status}")
                    if status not in _deploy.OK_STATUSES:
                        out.stack_status = status
                        self.result.stopped = (f"bake check after wave {number}: the stack in "
                                               f"{out.region} is {status}")
                        return
        if self.gate is not None:
            try:
                go_on = self.gate(self.result.wave(number))
            except Exception as exc:  # a failing gate stops the rollout; it does not crash it
                self.result.stopped = f"gate raised {type(exc).__name__}: {exc}"
                return
            if not go_on:
                self.result.stopped = f"gate stopped the rollout after wave {number}"

    def _rollback(self, sched: Scheduler) -> None:
        targets = [o.region for o in self.result.outcomes if o.created and o.stack_id
                   and o.status in (RegionState.DONE, RegionState.FAILED)]
        most = max(self.plan.limits(w)[0] for w in range(1, len(self.plan.waves) + 1))
        if targets:
            sched.run_wave(0, targets, self._roll_back, limit=lambda _: most)
        self.result.rolled_back = True

    def _finish(self, interrupted: bool, sched: Scheduler) -> None:
        """Every row final (once), recorded once, the board closed."""
        now = time.time()
        for out in self.result.outcomes:
            if out.status is RegionState.RUNNING:  # a worker that did not come back in time
                out.status = RegionState.INTERRUPTED
                out.note = out.note or "did not stop in time"
                out.ended = out.ended or now
            elif out.status is RegionState.QUEUED:
                out.status = RegionState.SKIPPED
                out.note = "not started: interrupted" if interrupted else \
                    out.note or "not started"
            if out.status in (RegionState.SKIPPED, RegionState.INTERRUPTED):
                self.board.set(out.region, str(out.status), out.note)
        self.result.interrupted = interrupted
        self.result.ended = now
        record_jobs(self.kit.metrics, self.result)
        self.board.close()
