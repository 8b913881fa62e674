"""The ``jobs`` spec: parse ``{"name": fn, "other": (fn, ["name"])}`` into a checked graph.

Every mistake (not a callable, unknown dependency, cycle, parameters that cannot take the
dependencies' values) is a ``UsageError`` raised before any job starts.
"""

from __future__ import annotations

import graphlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import UsageError, closest

Graph = dict[str, tuple[Callable[..., Any], list[str], bool]]  # name -> (fn, deps, pass_deps)


def parse_spec(spec: Mapping[str, Any]) -> Graph:
    """Validate a ``jobs`` spec: callables, known dependencies, no cycle, bindable params."""
    if not isinstance(spec, Mapping) or not spec:
        raise UsageError(f"jobs spec {type(spec).__name__} is not a non-empty mapping",
                         suggestion='pass {"name": fn, "other": (fn2, ["name"])}')
    graph: Graph = {}
    for name, value in spec.items():
        if not isinstance(name, str) or not name:
            raise UsageError(f"job name {name!r} is not a non-empty string",
                             suggestion="name every job with a string")
        if callable(value):
            fn, deps = value, []
        elif isinstance(value, tuple | list) and len(value) == 2 and callable(value[0]):
            fn, raw = value
            if isinstance(raw, str) or not isinstance(raw, Iterable):
                raise UsageError(f"job {name!r}: dependencies {raw!r} are not a list of names",
                                 suggestion=f'write (fn, ["{raw}"])' if isinstance(raw, str)
                                 else "pass a list of job names")
            deps = list(raw)
        else:
            raise UsageError(f"job {name!r}: {value!r} is neither a callable nor "
                             "(callable, [dependencies])",
                             suggestion='use fn or (fn, ["dep", ...])')
        graph[name] = (fn, deps, True)
    for name, (fn, deps, _) in graph.items():
        for dep in deps:
            if dep not in graph:
                close = closest(str(dep), graph, n=1)
                hint = f"did you mean {close[0]!r}?" if close else "define it in the spec"
                raise UsageError(f"job {name!r} depends on unknown job {dep!r}", suggestion=hint)
        graph[name] = (fn, deps, _check_params(name, fn, deps))
    try:
        graphlib.TopologicalSorter({n: d for n, (_, d, _) in graph.items()}).prepare()
    except graphlib.CycleError as exc:
        path = " → ".join(reversed(exc.args[1]))
        raise UsageError(f"jobs form a cycle: {path} (each needs the next)",
                         suggestion="remove one of these dependencies") from None
    return graph


def _check_params(name: str, fn: Callable[..., Any], deps: list[str]) -> bool:
    """True when ``fn`` takes its dependencies' values as keyword arguments."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins without a signature: call with dep kwargs
        return True
    if not sig.parameters:
        return False
    try:
        sig.bind(**dict.fromkeys(deps))
    except TypeError as exc:
        raise UsageError(
            f"job {name!r}: {getattr(fn, '__name__', fn)!r}{sig} cannot take its dependencies "
            f"{deps} as keyword arguments ({exc})",
            suggestion="name its parameters after its dependencies, accept **deps, "
                       "or take no parameters") from None
    return True
