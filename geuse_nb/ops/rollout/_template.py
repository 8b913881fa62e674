"""A rollout's template: text or a path, its declared parameters, and the bundled sample.

The template's ``Parameters`` section is read here (JSON, or YAML with CloudFormation's
``!Ref``-style tags ignored) so that unknown or missing parameters are caught before any
request, and so that the dry run can compare a deployed stack's parameters with what an
update would set (defaults included: ``UpdateStack`` resets an omitted parameter to its
default). A template this cannot read is left to ``ValidateTemplate``, whose message the
caller gets as an ``AwsCallError`` naming the region.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...errors import UsageError, did_you_mean
from ._capabilities import detect

MAX_BODY_BYTES = 51_200  # CloudFormation's limit for TemplateBody
_SUFFIXES = (".yaml", ".yml", ".json", ".template", ".txt")


def templates_dir() -> Path:
    """Where the bundled templates are: ``data/templates`` in a checkout, else where an
    installed wheel put them (found like the sandbox's ``spot_market.csv``)."""
    from ...sandbox.market import data_dir

    return data_dir() / "templates"


def template_path(name: str = "vpc_network") -> Path:
    """The path of a bundled template (``vpc_network``: VPC + subnet + security group)."""
    folder = templates_dir()
    found = {p.stem: p for p in folder.glob("*.y*ml")} if folder.is_dir() else {}
    if name not in found:
        raise UsageError(f"no bundled template {name!r}" + did_you_mean(name, found),
                         suggestion=f"bundled templates in {folder}: "
                                    + (", ".join(sorted(found)) or "none"))
    return found[name]


@dataclasses.dataclass(frozen=True)
class Template:
    """Template text and what it declares."""

    body: str
    source: str  # the path, or "<text>"
    declared: dict[str, str | None] | None  # parameter → default; None when unreadable
    needs: tuple[str, ...] = ()  # the Capabilities it needs (``_capabilities.detect``)

    def parameters(self, given: Mapping[str, Any] | None) -> dict[str, str]:
        """The full parameter values a deploy sets: defaults, overridden by ``given``."""
        values = {k: _text(v) for k, v in (given or {}).items()}
        if self.declared is None:
            return values
        unknown = [k for k in values if k not in self.declared]
        if unknown:
            said = "; ".join(f"{k!r}{did_you_mean(k, self.declared)}" for k in unknown)
            raise UsageError(f"the template declares no parameter {said}",
                             suggestion="declared parameters: "
                                        + (", ".join(self.declared) or "none"))
        missing = [k for k, d in self.declared.items() if d is None and k not in values]
        if missing:
            raise UsageError(f"parameter(s) {missing} have no default in the template",
                             suggestion="pass them: parameters={"
                                        + ", ".join(f"{k!r}: ..." for k in missing) + "}")
        return {k: values.get(k, d) or "" for k, d in self.declared.items()}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_text(v) for v in value)
    return str(value)


def load(template: str | os.PathLike[str]) -> Template:
    """Read ``template`` (text or a path) → :class:`Template`; ``UsageError`` when empty,
    too large, or a path that does not exist."""
    if isinstance(template, os.PathLike) or (
            isinstance(template, str) and "\n" not in template
            and (template.strip().lower().endswith(_SUFFIXES) or os.path.isfile(template))):
        path = Path(template).expanduser()
        if not path.is_file():
            raise UsageError(f"template file {str(path)!r} does not exist",
                             suggestion="pass the template's text or an existing path; "
                                        "rollout.template_path() is a bundled sample")
        body, source = path.read_text(encoding="utf-8"), str(path)
    elif isinstance(template, str):
        body, source = template, "<text>"
    else:
        raise UsageError(f"template={template!r} is not text or a path",
                         suggestion="pass the template's text or a path to it")
    if not body.strip():
        raise UsageError(f"the template {source} is empty",
                         suggestion="pass a CloudFormation template with a Resources section")
    size = len(body.encode("utf-8"))
    if size > MAX_BODY_BYTES:
        raise UsageError(f"the template {source} is {size:,} bytes; TemplateBody allows "
                         f"{MAX_BODY_BYTES:,}", suggestion="shorten it (or upload it to S3 and "
                                                           "deploy with TemplateURL yourself)")
    doc = _parse(body)
    return Template(body=body, source=source, declared=_declared(doc), needs=detect(doc, body))


def _declared(doc: Any) -> dict[str, str | None] | None:
    if not isinstance(doc, dict):
        return None
    params = doc.get("Parameters") or {}
    if not isinstance(params, dict):
        return None
    out: dict[str, str | None] = {}
    for name, spec in params.items():
        default = spec.get("Default") if isinstance(spec, dict) else None
        out[str(name)] = None if default is None else _text(default)
    return out


def _parse(body: str) -> Any:
    """The template as data, or None when it cannot be read."""
    text = body.lstrip()
    if text.startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            return None
    try:
        import yaml
    except ImportError:  # moto brings PyYAML; without it only given parameters are compared
        return None

    class _Loader(yaml.SafeLoader):
        pass

    def _tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
        return None  # !Ref, !Sub, ...: values the dry run does not need

    _Loader.add_multi_constructor("!", _tagged)
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.YAMLError:
        return None


def same_body(deployed: Any, body: str) -> bool:
    """Whether a ``GetTemplate`` ``TemplateBody`` (text, or a dict for JSON templates) is
    the template ``body``."""
    if isinstance(deployed, dict):
        mine = _parse(body)
        return isinstance(mine, dict) and mine == deployed
    if not isinstance(deployed, str):
        return False
    return _normal(deployed) == _normal(body)


def _normal(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().replace("\r\n", "\n").split("\n"))
