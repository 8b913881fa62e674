"""CloudFormation's capabilities check, which moto does not make.

AWS refuses ``CreateStack``/``UpdateStack`` of a template with IAM resources, named IAM
resources or macros unless the request acknowledges them (``Capabilities.member.N``), with
HTTP 400 ``InsufficientCapabilitiesException`` "Requires capabilities : [CAPABILITY_IAM]".
moto 5.2 accepts any template, so a client that never sends ``Capabilities`` would pass
every sandbox test and fail on its first IAM stack in AWS. This is AWS's rule as
documented for ``CreateStack`` ("Capabilities"), written here on the service's side and
independently of the client's detection (``ops/rollout/_capabilities.py``), so a test can
hold one against the other.
"""

from __future__ import annotations

from typing import Any

CODE = "InsufficientCapabilitiesException"
_IAM = ("AccessKey", "Group", "GroupPolicy", "InstanceProfile", "ManagedPolicy", "Policy",
        "Role", "RolePolicy", "User", "UserPolicy", "UserToGroupAddition")
_NAMES = {"Role": "RoleName", "User": "UserName", "Group": "GroupName",
          "InstanceProfile": "InstanceProfileName", "ManagedPolicy": "ManagedPolicyName"}


def _template(body: str) -> Any:
    import json

    import yaml

    if body.lstrip().startswith("{"):
        try:
            return json.loads(body)
        except ValueError:
            return None

    class _Loader(yaml.SafeLoader):
        pass

    def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
        if suffix == "Transform":  # keep a macro visible as its long form
            return {"Fn::Transform": None}
        return None

    _Loader.add_multi_constructor("!", _tag)
    try:
        return yaml.load(body, Loader=_Loader)  # a SafeLoader subclass
    except yaml.YAMLError:
        return None


def _macro(node: Any) -> bool:
    if isinstance(node, dict):
        return "Fn::Transform" in node or any(_macro(v) for v in node.values())
    return isinstance(node, list) and any(_macro(v) for v in node)


def required(body: str) -> list[str]:
    """The capabilities AWS would ask of this template, in AWS's order."""
    doc = _template(body)
    if not isinstance(doc, dict):
        return []
    iam = named = False
    resources = doc.get("Resources")
    for spec in (resources.values() if isinstance(resources, dict) else ()):
        kind = str(spec.get("Type", "")) if isinstance(spec, dict) else ""
        if not kind.startswith("AWS::IAM::") or kind[10:] not in _IAM:
            continue
        props = spec.get("Properties") or {}
        name = _NAMES.get(kind[10:])
        if name and isinstance(props, dict) and name in props:  # a !Sub value too
            named = True
        else:
            iam = True
    out = ["CAPABILITY_NAMED_IAM"] if named else ["CAPABILITY_IAM"] if iam else []
    if doc.get("Transform") or _macro(doc):
        out.append("CAPABILITY_AUTO_EXPAND")
    return out


def refusal(params: dict[str, list[str]]) -> str | None:
    """AWS's message when this CreateStack/UpdateStack lacks a capability, else None."""
    body = (params.get("TemplateBody") or [""])[0]
    if not body:
        return None
    given = {v[0] for k, v in params.items() if k.startswith("Capabilities.member.") and v}
    missing = [c for c in required(body) if c not in given
               and not (c == "CAPABILITY_IAM" and "CAPABILITY_NAMED_IAM" in given)]
    if not missing:
        return None
    return f"Requires capabilities : [{', '.join(missing)}]"
