"""The AWS CLI's argument syntax, mapped onto an operation's input shape from botocore's model.

``%aws ec2 describe-instances --instance-ids i-1 i-2 --filters Name=tag:env,Values=prod,dev``
becomes ``("ec2", "DescribeInstances", {"InstanceIds": ["i-1", "i-2"], "Filters": [{"Name":
"tag:env", "Values": ["prod", "dev"]}]})``. The rules are the CLI's:

- an option is the member name in kebab case (``InstanceIds`` → ``--instance-ids``);
- a list takes several values (``--instance-ids i-1 i-2``), or one JSON list;
- a structure, a map and each item of a list of structures take the CLI's *shorthand*
  (``Name=tag:env,Values=prod,dev``; ``[a,b]`` and ``{k=v}`` nest; a bare value after a
  comma continues the previous key's list; parsed in ``_shorthand.py``) or JSON
  (``{"Name": "x"}``);
- a boolean is a flag: ``--dry-run`` / ``--no-dry-run``;
- integers, floats, timestamps (ISO 8601 or epoch seconds) and blobs (text, UTF-8) from
  one value.

Every value is checked against the shape as it is converted, so a typo fails here, naming
the input and the closest valid names, before anything is sent. The module imports no
IPython (the magics turn ``UsageError`` into IPython's one-line error) and nothing from
botocore but its model objects, which the caller passes in. Loading ec2's model takes
~0.2 s once per process (botocore's loader caches it), so it is loaded lazily per service.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..errors import UsageError, did_you_mean
from ._shorthand import parse_shorthand

# Options the magic itself takes; they never reach the operation.
GLOBAL_OPTIONS = ("--region", "--refresh", "--query")


@dataclass
class AwsCommand:
    """One parsed ``%aws`` line."""

    service: str
    operation: str          # the API name, e.g. "DescribeInstances"
    snake: str              # boto3's method name, e.g. "describe_instances"
    params: dict[str, Any] = field(default_factory=dict)
    region: str | None = None
    refresh: bool = False
    query: str | None = None


# ---------------------------------------------------------------- botocore model
@functools.lru_cache(maxsize=1)
def _session() -> Any:
    import botocore.session

    return botocore.session.get_session()


@functools.lru_cache(maxsize=1)
def services() -> tuple[str, ...]:
    """Every service botocore knows, sorted."""
    return tuple(sorted(_session().get_available_services()))


@functools.lru_cache(maxsize=64)
def service_model(service: str) -> Any:
    """botocore's ``ServiceModel`` for ``service``; ``UsageError`` naming the closest."""
    if service not in services():
        raise UsageError(f"AWS has no service {service!r}{did_you_mean(service, services())}",
                         suggestion="the first word is a service, as in the AWS CLI: "
                                    "`%aws ec2 describe-regions`")
    return _session().get_service_model(service)


def kebab(name: str) -> str:
    """``DescribeInstances`` → ``describe-instances`` (the CLI's spelling)."""
    from botocore import xform_name

    return str(xform_name(name, "-"))


@functools.lru_cache(maxsize=64)
def operations(service: str) -> dict[str, str]:
    """kebab name → API name, for every operation of ``service``."""
    return {kebab(api): api for api in service_model(service).operation_names}


def operation_model(service: str, operation: str) -> Any:
    """The ``OperationModel`` for a kebab (or snake, or API) operation name."""
    ops = operations(service)
    name = operation.replace("_", "-")
    api = ops.get(name) or (operation if operation in ops.values() else None)
    if api is None:
        raise UsageError(f"{service} has no operation {operation!r}{did_you_mean(name, ops)}",
                         suggestion=f"`%aws {service} --help` lists them")
    return service_model(service).operation_model(api)


def options_of(op_model: Any) -> dict[str, str]:
    """``--kebab-name`` → input member name, for an operation."""
    shape = op_model.input_shape
    return {"--" + kebab(m): m for m in (shape.members if shape is not None else {})}


# ---------------------------------------------------------------- the command line
def parse_command(tokens: Sequence[str]) -> AwsCommand:
    """``["ec2", "describe-instances", "--instance-ids", "i-1", ...]`` → ``AwsCommand``."""
    if len(tokens) < 2 or tokens[0].startswith("-") or tokens[1].startswith("-"):
        raise UsageError(f"expected SERVICE OPERATION first, got {' '.join(tokens)!r}",
                         suggestion="e.g. `%aws ec2 describe-availability-zones "
                                    "--region eu-west-1`")
    service, operation, rest = tokens[0], tokens[1], list(tokens[2:])
    op_model = operation_model(service, operation)
    command = AwsCommand(service=service, operation=op_model.name,
                         snake=kebab(op_model.name).replace("-", "_"))
    groups = _group_options(rest, f"{service} {kebab(op_model.name)}")
    params: dict[str, Any] = {}
    valid = options_of(op_model)
    for option, values in groups:
        if option == "--region":
            command.region = _one(option, values)
        elif option == "--refresh":
            _none(option, values)
            command.refresh = True
        elif option == "--query":
            command.query = _one(option, values)
            _check_query(command.query)
        else:
            member, value = _member_value(option, values, valid, op_model)
            if member in params:
                raise UsageError(f"{option} is given twice",
                                 suggestion="give every option once")
            params[member] = value
    missing = [m for m in (op_model.input_shape.required_members if op_model.input_shape
                           else ()) if m not in params]
    if missing:
        raise UsageError(
            f"{service} {kebab(op_model.name)} needs "
            + ", ".join("--" + kebab(m) for m in missing),
            suggestion="add the missing option(s); nothing was sent")
    command.params = params
    return command


def _group_options(tokens: list[str], where: str) -> list[tuple[str, list[str]]]:
    """``["--a", "1", "2", "--b=x", "--c"]`` → ``[("--a", ["1", "2"]), ("--b", ["x"]),
    ("--c", [])]``."""
    groups: list[tuple[str, list[str]]] = []
    for token in tokens:
        if token.startswith("--") and len(token) > 2:
            name, eq, value = token.partition("=")
            groups.append((name, [value] if eq else []))
        elif not groups:
            raise UsageError(f"{where}: unexpected value {token!r} before any option",
                             suggestion="values follow an option, e.g. --instance-ids i-1 i-2")
        else:
            groups[-1][1].append(token)
    return groups


def _one(option: str, values: list[str]) -> str:
    if len(values) != 1:
        raise UsageError(f"{option} takes one value, got {len(values)}: {values!r}",
                         suggestion="quote a value that holds spaces")
    return values[0]


def _none(option: str, values: list[str]) -> None:
    if values:
        raise UsageError(f"{option} is a flag and takes no value, got {values!r}",
                         suggestion=f"write {option} alone")


def _check_query(query: str) -> None:
    import jmespath
    import jmespath.exceptions

    try:
        jmespath.compile(query)
    except jmespath.exceptions.JMESPathError as exc:
        raise UsageError(f"--query {query!r} is not JMESPath: {str(exc).splitlines()[0]}",
                         suggestion="see https://jmespath.org, e.g. "
                                    "--query 'Reservations[].Instances[].InstanceId'") from None


def _member_value(option: str, values: list[str], valid: dict[str, str],
                  op_model: Any) -> tuple[str, Any]:
    negated = option.startswith("--no-") and option not in valid
    name = "--" + option[5:] if negated else option
    member = valid.get(name)
    if member is None:
        choices = [*valid, *GLOBAL_OPTIONS]
        raise UsageError(
            f"{op_model.service_model.service_name} {kebab(op_model.name)} has no option "
            f"{option!r}{did_you_mean(option, choices)}",
            suggestion="valid options: " + ", ".join(sorted(choices)))
    shape = op_model.input_shape.members[member]
    if shape.type_name == "boolean":
        if negated:
            _none(option, values)
            return member, False
        if not values:
            return member, True
        return member, convert(_one(option, values), shape, option)
    if negated:
        raise UsageError(f"{option}: only booleans have a --no- form ({name} is a "
                         f"{shape.type_name})", suggestion=f"write {name} VALUE")
    if not values:
        raise UsageError(f"{option} needs a value ({describe(shape)})",
                         suggestion=f"e.g. {option} {example(shape)}")
    if shape.type_name == "list":
        if len(values) == 1 and values[0].lstrip().startswith("["):
            return member, convert(_json(values[0], option), shape, option)
        return member, [convert(v, shape.member, option) for v in values]
    return member, convert(_one(option, values), shape, option)


# ---------------------------------------------------------------- values
def describe(shape: Any) -> str:
    """A short type description: ``list of string``, ``structure``…"""
    if shape.type_name == "list":
        return f"list of {describe(shape.member)}"
    return str(shape.type_name)


def example(shape: Any) -> str:
    kind = shape.type_name
    if kind == "structure":
        return ",".join(f"{m}=..." for m in list(shape.members)[:2])
    if kind == "list":
        return f"{example(shape.member)} {example(shape.member)}"
    return {"integer": "10", "long": "10", "boolean": "true", "timestamp": "2026-01-01T00:00:00Z",
            "map": "key=value", "float": "1.5", "double": "1.5"}.get(kind, "VALUE")


def _json(text: str, option: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{option}: {text!r} is not valid JSON ({exc.msg} at {exc.pos})",
                         suggestion="quote JSON in single quotes: '{\"Key\": \"value\"}'") from None


def convert(value: Any, shape: Any, option: str) -> Any:
    """A CLI string (or a parsed JSON/shorthand value) → the Python value ``shape`` wants."""
    kind = shape.type_name
    if isinstance(value, str) and kind in ("structure", "map"):
        text = value.strip()
        value = _json(text, option) if text.startswith("{") else parse_shorthand(text, option)
    if kind == "structure":
        if not isinstance(value, dict):
            raise UsageError(f"{option}: expected a structure, got {value!r}",
                             suggestion=f"e.g. {option} {example(shape)}")
        out = {}
        for key, item in value.items():
            member = _member_name(key, shape, option)
            out[member] = convert(item, shape.members[member], f"{option} {member}")
        return out
    if kind == "map":
        if not isinstance(value, dict):
            raise UsageError(f"{option}: expected key=value pairs, got {value!r}",
                             suggestion=f"e.g. {option} key=value,other=value")
        return {convert(k, shape.key, option): convert(v, shape.value, option)
                for k, v in value.items()}
    if kind == "list":
        if isinstance(value, str) and value.lstrip().startswith("["):
            value = _json(value, option)
        items = value if isinstance(value, list) else [value]
        return [convert(v, shape.member, option) for v in items]
    return _scalar(value, kind, option)


def _member_name(key: str, shape: Any, option: str) -> str:
    if key in shape.members:
        return str(key)
    by_lower = {m.lower(): m for m in shape.members}
    if str(key).lower() in by_lower:
        return by_lower[str(key).lower()]
    raise UsageError(f"{option}: {key!r} is not a field{did_you_mean(key, shape.members)}",
                     suggestion="fields: " + ", ".join(shape.members))


_TRUE = {"true": True, "false": False}


def _scalar(value: Any, kind: str, option: str) -> Any:
    try:
        if kind in ("integer", "long"):
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind in ("float", "double"):
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            return _TRUE[str(value).lower()]
        if kind == "timestamp":
            if isinstance(value, int | float) and not isinstance(value, bool):
                return datetime.fromtimestamp(value, UTC)
            text = str(value)
            try:
                return datetime.fromtimestamp(float(text), UTC)
            except ValueError:
                stamp = datetime.fromisoformat(text)
                return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
        if kind == "blob":
            return value.encode() if isinstance(value, str) else bytes(value)
    except (ValueError, KeyError, TypeError):
        raise UsageError(f"{option}: {value!r} is not a valid {kind}",
                         suggestion=f"e.g. {example_scalar(kind)}") from None
    if isinstance(value, dict | list):
        raise UsageError(f"{option}: expected a {kind}, got {value!r}",
                         suggestion="give a single value")
    return value if isinstance(value, str) else json.dumps(value) if value is None else str(value)


def example_scalar(kind: str) -> str:
    return {"integer": "10", "long": "10", "float": "1.5", "double": "1.5", "boolean": "true",
            "timestamp": "2026-01-01T00:00:00Z"}.get(kind, "text")
