"""One region's stack: validate, inspect (the dry run), create or update, wait, delete.

Every request goes through ``kit.call`` (validated, recorded, retried by botocore); reads of
a stack's state pass ``refresh=True`` so a poll never sees a cached answer.

The dry run is reads only: ``ValidateTemplate``, ``DescribeStacks`` and ``GetTemplate``. A
change set would say more, but creating one is a write (for a new stack it even creates a
``REVIEW_IN_PROGRESS`` stack), so it is not a dry run.

Waiting: botocore's CloudFormation waiters poll every 30 s, longer than a sandbox stack
takes to provision. ``wait`` polls after 0.1 s, then every 15 % of the time waited so far
(at most ``POLL_MAX`` s): a stack is seen at most ~15 % after it settled; a 3 s stack costs
about 18 ``DescribeStacks`` calls, a 10-minute one about 93. Stacks of one template take
about as long in every region, so once a region has settled, the others poll at the time
it took (the last poll that still saw it in progress, a lower bound) and briskly after:
in the 16-region benchmark the second round of regions is seen done ~0.1 s after it is,
not ~0.25 s.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from ...errors import AwsCallError
from ._model import Action, RegionOutcome, RegionState
from ._template import Template, same_body

if TYPE_CHECKING:
    from ...kit import Kit

log = logging.getLogger(__name__)
POLL_FIRST = 0.1
POLL_SHARE = 0.15
POLL_MAX = 10.0
OK_STATUSES = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"})
# A stack in one of these can only be deleted (and created again).
DEAD_STATUSES = frozenset({"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED",
                           "DELETE_FAILED"})
TAG = "geuse:rollout"
# CloudFormation answers DescribeStacks of a stack that does not exist with this code.
NOT_FOUND_CODES = ("ValidationError",)


class Interrupted(Exception):  # a control-flow signal, not an error
    """The run was stopped (Ctrl-C) while this region waited."""

    def __init__(self, stack_status: str | None, *, wrote: bool = True) -> None:
        self.stack_status = stack_status
        self.wrote = wrote  # False: stopped before this region's first write
        super().__init__(stack_status or "")


@dataclasses.dataclass
class Deployment:
    """What every region of one run shares."""

    kit: Kit
    stack_name: str
    template: Template
    parameters: dict[str, str]
    run_id: str
    stop: threading.Event
    note: Any  # callable(region, state, note) that updates the live board
    capabilities: tuple[str, ...] = ()  # sent with CreateStack/UpdateStack when not empty
    settled: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def took(self, status: str, seconds: float) -> None:
        """A stack left ``status`` (e.g. CREATE_IN_PROGRESS) after at least ``seconds``."""
        with self._lock:
            self.settled.setdefault(status, []).append(seconds)

    def expected(self, status: str) -> float | None:
        """The median time stacks of this run spent in ``status``, once one has left it."""
        import statistics

        with self._lock:
            seen = self.settled.get(status)
            return statistics.median(seen) if seen else None

    def call(self, operation: str, region: str, **params: Any) -> dict[str, Any]:
        return self.kit.call("cloudformation", operation, region, **params)

    def read(self, operation: str, region: str, **params: Any) -> dict[str, Any]:
        return self.kit.call("cloudformation", operation, region, refresh=True, **params)

    def probe(self, operation: str, region: str, **params: Any) -> dict[str, Any]:
        """A read whose not-found answer (CloudFormation's ``ValidationError`` "does not
        exist") is expected: recorded as such, not as an API error."""
        return self.kit.call("cloudformation", operation, region, refresh=True,
                             expect=NOT_FOUND_CODES, **params)


# ---------------------------------------------------------------- reads
def validate(dep: Deployment, region: str) -> None:
    """``ValidateTemplate`` in ``region``; raises the ``AwsCallError`` AWS's answer gives."""
    dep.call("validate_template", region, TemplateBody=dep.template.body)


def _missing(exc: AwsCallError) -> bool:
    return exc.error_code == "ValidationError" and "does not exist" in str(exc)


def describe(dep: Deployment, region: str, stack: str) -> dict[str, Any] | None:
    """The stack (by name or id), or None when there is none."""
    try:
        stacks = dep.probe("describe_stacks", region, StackName=stack).get("Stacks") or []
    except AwsCallError as exc:
        if _missing(exc):
            return None
        raise
    return stacks[0] if stacks else None


def outputs_of(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs") or []}


@dataclasses.dataclass
class Inspection:
    action: Action
    stack: dict[str, Any] | None
    changes: str = ""


def inspect(dep: Deployment, region: str) -> Inspection:
    """What this region needs (reads only)."""
    stack = describe(dep, region, dep.stack_name)
    if stack is None:
        return Inspection(Action.CREATE, None, "no stack yet")
    status = str(stack.get("StackStatus"))
    if status in DEAD_STATUSES:
        return Inspection(Action.REPLACE, stack, f"{status}: can only be deleted and created")
    if status.endswith("_IN_PROGRESS"):
        raise AwsCallError(f"stack {dep.stack_name} is {status}", service="cloudformation",
                           operation="describe_stacks", region=region, error_code=status,
                           suggestion="wait until CloudFormation finishes it, then run again")
    changes = []
    body = dep.read("get_template", region, StackName=stack["StackId"],
                    TemplateStage="Original").get("TemplateBody")
    if not same_body(body, dep.template.body):
        changes.append("template differs")
    deployed = {p["ParameterKey"]: p.get("ParameterValue", "")
                for p in stack.get("Parameters") or []}
    for key in sorted(set(deployed) | set(dep.parameters)):
        old, new = deployed.get(key), dep.parameters.get(key)
        if key in dep.parameters and old != new:
            changes.append(f"{key}: {old!r} → {new!r}")
    action = Action.UPDATE if changes else Action.NONE
    return Inspection(action, stack, "; ".join(changes))


def dry_run(dep: Deployment, region: str, out: RegionOutcome) -> None:
    """Fill ``out`` with what applying would do in ``region``."""
    found = inspect(dep, region)
    out.action = found.action
    out.status = {Action.CREATE: RegionState.WOULD_CREATE, Action.UPDATE:
                  RegionState.WOULD_UPDATE, Action.REPLACE: RegionState.WOULD_REPLACE,
                  Action.NONE: RegionState.NO_CHANGES}[found.action]
    out.note = found.changes
    if found.stack is not None:
        out.stack_id = found.stack.get("StackId")
        out.stack_status = found.stack.get("StackStatus")
        out.outputs = outputs_of(found.stack)


# ---------------------------------------------------------------- writes
def apply(dep: Deployment, region: str, out: RegionOutcome) -> None:
    """Create, update or replace the stack in ``region`` and wait for it; fills ``out``."""
    found = inspect(dep, region)
    out.action = found.action
    if found.stack is not None:
        out.stack_id = found.stack.get("StackId")
        out.stack_status = found.stack.get("StackStatus")
    if found.action is Action.NONE:
        out.status = RegionState.NO_CHANGES
        out.outputs = outputs_of(found.stack or {})
        out.note = "no changes"
        return
    if dep.stop.is_set():
        raise Interrupted(out.stack_status, wrote=False)
    params = [{"ParameterKey": k, "ParameterValue": v} for k, v in dep.parameters.items()]
    acknowledged = {"Capabilities": list(dep.capabilities)} if dep.capabilities else {}
    if found.action is Action.REPLACE:
        dep.note(region, RegionState.RUNNING, f"deleting the {out.stack_status} stack")
        delete(dep, region, str(out.stack_id), out)
        found.action = Action.CREATE
    if found.action is Action.CREATE:
        dep.note(region, RegionState.RUNNING, "CreateStack")
        answer = create(dep, region, params, acknowledged)
        out.created = True
    else:
        dep.note(region, RegionState.RUNNING, "UpdateStack: " + found.changes)
        try:
            answer = dep.call("update_stack", region, StackName=str(out.stack_id),
                              TemplateBody=dep.template.body, Parameters=params,
                              **acknowledged)
        except AwsCallError as exc:
            if "No updates are to be performed" not in str(exc):
                raise
            out.status, out.note = RegionState.NO_CHANGES, "no updates are to be performed"
            out.outputs = outputs_of(found.stack or {})
            return
    out.stack_id = answer.get("StackId", out.stack_id)
    out.stack_status = f"{found.action.name}_IN_PROGRESS"  # what AWS reports right after
    stack = wait(dep, region, str(out.stack_id), out)
    out.outputs = outputs_of(stack)
    if out.stack_status in OK_STATUSES:
        out.status = RegionState.DONE
        out.note = found.changes if found.action is Action.UPDATE else "created"
        return
    out.status = RegionState.FAILED
    reason = stack.get("StackStatusReason") or "no reason given"
    out.error = f"{out.stack_status}: {reason}"
    out.suggestion = (f"see DescribeStackEvents of {dep.stack_name} in {region} for the "
                      "resource that failed; fix the template or parameters and run again"
                      + (" (the failed stack is replaced then)" if out.stack_status
                         in DEAD_STATUSES else ""))


def create(dep: Deployment, region: str, params: list[dict[str, str]],
           acknowledged: dict[str, Any]) -> dict[str, Any]:
    """``CreateStack``, safe to retry. botocore retries a read timeout, and a first attempt
    that reached CloudFormation may have created the stack: the ``ClientRequestToken`` makes
    AWS answer the retry with that stack, and where it answers ``AlreadyExistsException``
    instead (moto ignores the token) a stack carrying this run's tag is recognised as the
    one the first attempt created, with a warning, rather than failing the region."""
    token = f"geuse-{dep.run_id}-{region}"
    try:
        return dep.call("create_stack", region, StackName=dep.stack_name,
                        TemplateBody=dep.template.body, Parameters=params,
                        Tags=[{"Key": TAG, "Value": dep.run_id}], ClientRequestToken=token,
                        **acknowledged)
    except AwsCallError as exc:
        if exc.error_code != "AlreadyExistsException":
            raise
        stack = describe(dep, region, dep.stack_name)
        tags = {t.get("Key"): t.get("Value") for t in (stack or {}).get("Tags") or []}
        if stack is None or tags.get(TAG) != dep.run_id:
            raise  # someone else's stack, created since the dry check
        log.warning("rollout: CreateStack of %s in %s was answered AlreadyExists, by the "
                    "stack this run's earlier attempt created (a retried timeout); going on "
                    "with %s", dep.stack_name, region, stack.get("StackId"))
        return {"StackId": stack.get("StackId")}


def wait(dep: Deployment, region: str, stack_id: str, out: RegionOutcome,
         *, gone_ok: bool = False) -> dict[str, Any]:
    """Poll the stack until it is no longer in progress; returns its last description
    (``{}`` when it is gone and ``gone_ok``). Raises ``Interrupted`` on stop."""
    began = time.monotonic()
    delay = POLL_FIRST
    polls = 0
    busy: tuple[str, float] | None = None  # the first in-progress status, last seen when
    while True:
        if dep.stop.wait(delay):
            raise Interrupted(out.stack_status)
        stack = describe(dep, region, stack_id)
        if stack is None:
            if gone_ok:
                out.stack_status = "DELETE_COMPLETE"
                return {}
            raise AwsCallError(f"stack {stack_id} disappeared", service="cloudformation",
                               operation="describe_stacks", region=region,
                               suggestion="someone deleted it meanwhile; run again")
        status = str(stack.get("StackStatus"))
        seen, out.stack_status = out.stack_status, status
        waited = time.monotonic() - began
        if not status.endswith("_IN_PROGRESS"):
            if busy is not None:
                dep.took(*busy)
            return stack
        if status != seen or polls == 0:  # the board shows changes; its clock shows time
            dep.note(region, RegionState.RUNNING, status)
        polls += 1
        busy = (busy[0] if busy else status, waited)
        delay = min(POLL_MAX, max(POLL_FIRST, POLL_SHARE * waited))
        expected = dep.expected(busy[0])
        if expected is not None:
            if waited < expected - POLL_FIRST:
                delay = min(delay, expected - waited)  # land where the others settled
            elif waited < 1.25 * expected + 1.0:
                delay = POLL_FIRST  # around that time: briskly


def delete(dep: Deployment, region: str, stack_id: str, out: RegionOutcome) -> None:
    """``DeleteStack`` and wait until it is gone; ``AwsCallError`` on ``DELETE_FAILED``."""
    dep.call("delete_stack", region, StackName=stack_id)
    stack = wait(dep, region, stack_id, out, gone_ok=True)
    status = stack.get("StackStatus", "DELETE_COMPLETE")
    if status != "DELETE_COMPLETE":
        raise AwsCallError(f"stack {stack_id} ended {status}: "
                           f"{stack.get('StackStatusReason') or 'no reason given'}",
                           service="cloudformation", operation="delete_stack", region=region,
                           error_code=status,
                           suggestion="see DescribeStackEvents for what could not be deleted")
