"""CloudFormation stacks that take time and can fail, on top of moto (which has neither).

moto's ``CreateStack`` reaches ``CREATE_COMPLETE`` within the request (7–42 ms), so waiting,
progress and timings of a rollout would all be zero. ``StackClock`` keeps, per region, a
provisioning time and whether stacks fail (``Sandbox.set_stacks``), notes every stack that
``CreateStack``/``UpdateStack`` start while that is set, and rewrites moto's
``DescribeStacks`` answers for them:

- for ``provision_seconds`` after the write: ``CREATE_IN_PROGRESS`` / ``UPDATE_IN_PROGRESS``,
  no outputs (as AWS shows a stack still provisioning);
- then moto's own answer, or with ``fail=True`` what AWS shows after a failed resource:
  ``ROLLBACK_COMPLETE`` (``CREATE_FAILED`` when the stack was created with
  ``DisableRollback``; no outputs) or ``UPDATE_ROLLBACK_COMPLETE``, with a
  ``StackStatusReason``.

As on AWS, ``UpdateStack`` of a stack that is still in progress, or in ``ROLLBACK_COMPLETE``,
is refused with a ``ValidationError``. Every other call (EC2, ``GetTemplate``, deletes, ...) is
moto's, undelayed, so the rest of the region keeps working while a stack "provisions".
Deletes stay instant.

``ValidateTemplate`` answers are remembered per template body: moto validates with cfn-lint,
1.2–1.4 s of CPU per call on the 2-core VM (AWS answers in ~0.1 s), and its answer depends
on the template only, so a rollout validating in 16 regions would spend ~20 s there.

A failed update is rolled back for real (``stack_rollback``): moto is updated back to the
previous template and parameters, so ``GetTemplate`` and a rollout's dry run see the last
good stack, and ``UPDATE_ROLLBACK_COMPLETE`` keeps that stack's outputs, as on AWS.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from ..errors import SandboxError
from . import capabilities

NS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
_STACK_ID = re.compile(rb"<StackId>([^<]+)</StackId>")
_VALIDATIONS_KEPT = 256
Answer = tuple[str, list[tuple[str, str]], bytes]


@dataclasses.dataclass(frozen=True)
class StackTiming:
    """What a region's new stacks do: provision for ``seconds``, then complete or fail."""

    seconds: float = 0.0
    fail: bool = False

    @property
    def plain(self) -> bool:
        return self.seconds <= 0 and not self.fail


@dataclasses.dataclass
class _Tracked:
    stack_id: str
    name: str
    region: str
    kind: str  # "CREATE" | "UPDATE"
    began: float  # monotonic
    timing: StackTiming
    disable_rollback: bool = False

    def status(self, now: float) -> tuple[str, str] | None:
        """(status, reason) to present, or None for moto's own answer."""
        if now - self.began < self.timing.seconds:
            return f"{self.kind}_IN_PROGRESS", "User Initiated"
        if not self.timing.fail:
            return None
        if self.kind == "UPDATE":
            return ("UPDATE_ROLLBACK_COMPLETE",
                    "The following resource(s) failed to update: [PublicSubnet]. "
                    f"(sandbox: set_stacks(fail=True) in {self.region})")
        status = "CREATE_FAILED" if self.disable_rollback else "ROLLBACK_COMPLETE"
        return (status, "The following resource(s) failed to create: [PublicSubnet]. "
                        "Rollback requested by user. "
                        f"(sandbox: set_stacks(fail=True) in {self.region})")


def check_timing(provision_seconds: object, fail: object) -> StackTiming:
    """A valid ``StackTiming`` or ``SandboxError`` naming the bad value."""
    if isinstance(provision_seconds, bool) or not isinstance(provision_seconds, (int, float)) \
            or not math.isfinite(provision_seconds) or provision_seconds < 0:
        raise SandboxError(f"provision_seconds={provision_seconds!r} is not valid",
                           suggestion="give seconds ≥ 0, e.g. 2.5")
    if not isinstance(fail, bool):
        raise SandboxError(f"fail={fail!r} is not valid", suggestion="give True or False")
    return StackTiming(float(provision_seconds), fail)


def _first(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


class StackClock:
    """Per-region stack timing and the stacks it applies to (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._default = StackTiming()
        self._regions: dict[str, StackTiming] = {}
        self._stacks: dict[str, _Tracked] = {}  # stack id → tracked
        self._validations: dict[str, Answer] = {}  # template body hash → moto's answer
        self._validating: dict[str, threading.Lock] = {}  # one computation per body

    # ------------------------------------------------------------ ValidateTemplate memo
    @staticmethod
    def _body_key(operation: str, params: dict[str, list[str]]) -> str | None:
        body = _first(params, "TemplateBody")
        if operation != "ValidateTemplate" or body is None:
            return None
        return hashlib.sha256(body.encode()).hexdigest()

    def validated(self, operation: str, params: dict[str, list[str]],
                  compute: Callable[[], Answer]) -> Answer | None:
        """moto's answer to this ValidateTemplate, computed once per template body (callers
        of the same body wait for the first); None for any other request."""
        key = self._body_key(operation, params)
        if key is None:
            return None
        with self._lock:
            known = self._validations.get(key)
            if known is not None:
                return known
            gate = self._validating.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                known = self._validations.get(key)
            if known is not None:
                return known
            answer = compute()
            if answer[0][:1] in "24":  # a 5xx may be transient: not remembered
                with self._lock:
                    if len(self._validations) >= _VALIDATIONS_KEPT:
                        self._validations.pop(next(iter(self._validations)))
                    self._validations[key] = answer
                    self._validating.pop(key, None)
            return answer

    # ------------------------------------------------------------ control
    def set(self, region: str | None, provision_seconds: object, fail: object) -> dict[str, Any]:
        """Set one region's timing, or every region's (``region=None`` clears the others)."""
        timing = check_timing(provision_seconds, fail)
        with self._lock:
            if region is None:
                self._default = timing
                self._regions.clear()
            else:
                self._regions[str(region)] = timing
        return self.state()

    def state(self) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            return {
                "default": dataclasses.asdict(self._default),
                "regions": {r: dataclasses.asdict(t) for r, t in self._regions.items()},
                "stacks": [{"region": s.region, "stack_name": s.name, "stack_id": s.stack_id,
                            "kind": s.kind, "age": round(now - s.began, 3),
                            **dataclasses.asdict(s.timing)} for s in self._stacks.values()],
            }

    def timing(self, region: str) -> StackTiming:
        with self._lock:
            return self._regions.get(region, self._default)

    # ------------------------------------------------------------ requests
    def _find(self, region: str, name_or_id: str | None) -> _Tracked | None:
        if not name_or_id:
            return None
        with self._lock:
            found = self._stacks.get(name_or_id)
            if found is None:
                found = next((s for s in self._stacks.values()
                              if s.region == region and s.name == name_or_id), None)
            return found

    def refuse(self, region: str, operation: str,
               params: dict[str, list[str]]) -> tuple[str, str] | None:
        """(code, message) of the error AWS would give for this request, or None."""
        if operation in ("CreateStack", "UpdateStack"):
            lacking = capabilities.refusal(params)
            if lacking:
                return capabilities.CODE, lacking
        if operation != "UpdateStack":
            return None
        tracked = self._find(region, _first(params, "StackName"))
        if tracked is None:
            return None
        shown = tracked.status(time.monotonic())
        if shown and (shown[0].endswith("_IN_PROGRESS") or shown[0] in (
                "ROLLBACK_COMPLETE", "CREATE_FAILED")):
            return ("ValidationError",
                    f"Stack:{tracked.stack_id} is in {shown[0]} state and can not be updated.")
        return None

    def answered(self, region: str, operation: str, params: dict[str, list[str]],
                 status: str, payload: bytes) -> bytes:
        """Note the stacks a successful write started; rewrite DescribeStacks answers."""
        if not status.startswith("2"):
            return payload
        if operation in ("CreateStack", "UpdateStack"):
            self._started(region, operation, params, payload)
        elif operation == "DeleteStack":
            tracked = self._find(region, _first(params, "StackName"))
            if tracked is not None:
                with self._lock:
                    self._stacks.pop(tracked.stack_id, None)
        elif operation == "DescribeStacks":
            with self._lock:
                mine = any(s.region == region for s in self._stacks.values())
            if mine:
                return self._rewrite(payload)
        return payload

    def _started(self, region: str, operation: str, params: dict[str, list[str]],
                 payload: bytes) -> None:
        timing = self.timing(region)
        match = _STACK_ID.search(payload)
        name = (params.get("StackName") or [""])[0]
        if match is None:
            return
        stack_id = match.group(1).decode()
        with self._lock:
            if timing.plain:
                self._stacks.pop(stack_id, None)
                return
            previous = self._stacks.get(stack_id)
            self._stacks[stack_id] = _Tracked(
                stack_id=stack_id, name=previous.name if previous else name, region=region,
                kind="CREATE" if operation == "CreateStack" else "UPDATE",
                began=time.monotonic(), timing=timing,
                disable_rollback=(params.get("DisableRollback") or ["false"])[0] == "true")

    def _rewrite(self, payload: bytes) -> bytes:
        try:
            root = ET.fromstring(payload)
        except ET.ParseError:
            return payload
        now = time.monotonic()
        changed = False
        for member in root.iter(f"{{{NS}}}member"):
            sid = member.find(f"{{{NS}}}StackId")
            status = member.find(f"{{{NS}}}StackStatus")
            if sid is None or status is None or sid.text is None:
                continue
            with self._lock:
                tracked = self._stacks.get(sid.text)
            shown = tracked.status(now) if tracked else None
            if shown is None or status.text == "DELETE_COMPLETE":
                continue
            status.text = shown[0]
            reason = member.find(f"{{{NS}}}StackStatusReason")
            if reason is None:
                reason = ET.Element(f"{{{NS}}}StackStatusReason")
                member.insert(list(member).index(status) + 1, reason)
            reason.text = shown[1]
            outputs = member.find(f"{{{NS}}}Outputs")
            if outputs is not None and shown[0] != "UPDATE_ROLLBACK_COMPLETE":
                member.remove(outputs)  # the rolled-back stack keeps its last good outputs
            changed = True
        if not changed:
            return payload
        ET.register_namespace("", NS)
        return ET.tostring(root, encoding="utf-8", xml_declaration=False)
