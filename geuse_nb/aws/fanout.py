"""Fan one AWS read out over regions (× parameter sets) in parallel → one DataFrame.

Every (region, parameter set) pair is one ``pmap`` job calling ``calls.records``;
their frames are stacked with a ``region`` column (and one column per varied
parameter). Pairs that failed are listed in ``frame.attrs["failed"]`` and logged,
never dropped silently.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..states import JobStatus

if TYPE_CHECKING:
    import pandas as pd

    from ..engine.parallel import Engine

log = logging.getLogger(__name__)


class _FanoutCall:
    """One job of a fan-out: ``calls.records`` for the (region, params) behind a label.

    Module-level and plain so that it pickles by reference onto Dask workers.
    """

    def __init__(self, calls: Any, service: str, operation: str,
                 jobs: Mapping[str, tuple[str, dict[str, Any]]]) -> None:
        self.calls = calls
        self.service = service
        self.operation = operation
        self.jobs = dict(jobs)

    def __call__(self, label: str) -> pd.DataFrame:
        region, params = self.jobs[label]
        return self.calls.records(self.service, self.operation, region, **params)


def resolve_regions(regions: str | Iterable[str] | None, calls: Any,
                    default_region: str) -> list[str]:
    """``None`` → the default region; ``"all"`` → every region ``describe_regions`` lists
    (through the call path, so cached); a name or a list of names as given (deduplicated)."""
    if regions is None:
        return [default_region]
    if regions == "all":
        answer = calls.call("ec2", "describe_regions", default_region)
        return sorted(r["RegionName"] for r in answer.get("Regions", []))
    if isinstance(regions, str):
        regions = [regions]
    if not isinstance(regions, Iterable):
        raise UsageError(f"regions={regions!r} is not valid",
                         suggestion='pass a region name, a list of them, "all" or None')
    names = list(dict.fromkeys(regions))
    bad = [r for r in names if not isinstance(r, str) or not r.strip()]
    if bad or not names:
        raise UsageError(f"regions={regions!r} is not valid: {bad or 'empty'}",
                         suggestion='pass region names such as "us-east-1", or "all"')
    return names


def fanout(engine: Engine, calls: Any, service: str, operation: str,
           regions: str | Iterable[str] | None, *,
           param_sets: Iterable[Mapping[str, Any]] | None = None, desc: str | None = None,
           n_jobs: int | None = None, default_region: str, **params: Any) -> pd.DataFrame:
    """``calls.records(service, operation, region, **params)`` over regions (× param sets).

    Returns one DataFrame with a ``region`` column and, with ``param_sets``, one column
    per parameter they set (prefixed ``param_`` if the records already have that name).
    ``frame.attrs["failed"]``: one dict (region, params, error, suggestion) per failed
    pair (the run's per-job rows are in the recorder's ``jobs`` table).
    """
    import pandas as pd

    names = resolve_regions(regions, calls, default_region)
    sets: list[dict[str, Any]]
    if param_sets is None:
        sets = [{}]
    else:
        if isinstance(param_sets, Mapping) or not isinstance(param_sets, Iterable):
            raise UsageError("param_sets must be a list of parameter dicts",
                             suggestion='pass e.g. [{"InstanceTypes": ["m5.large"]}, ...]')
        sets = [dict(p) for p in param_sets] if all(
            isinstance(p, Mapping) for p in param_sets) else []
        if not sets:
            raise UsageError(f"param_sets={param_sets!r} is not a non-empty list of dicts",
                             suggestion='pass e.g. [{"InstanceTypes": ["m5.large"]}, ...]')
    jobs: dict[str, tuple[str, dict[str, Any]]] = {}
    for region in names:
        for i, extra in enumerate(sets):
            label = region if len(sets) == 1 else f"{region}#{i}"
            jobs[label] = (region, {**params, **extra})
    results = engine.pmap(_FanoutCall(calls, service, operation, jobs), list(jobs),
                          desc=desc or f"{service}.{operation}", n_jobs=n_jobs)

    varied = list(dict.fromkeys(k for s in sets for k in s)) if param_sets is not None else []
    frames = []
    failed = []
    for job, status in results.statuses.items():
        label = str(job)  # the job keys are the labels above
        region, call_params = jobs[label]
        if status == JobStatus.DONE:
            df = results.values[label]
            if df is None:
                continue
            df = df.copy()
            if "region" not in df.columns:
                df.insert(0, "region", region)
            for key in varied:
                column = key if key not in df.columns else f"param_{key}"
                value = call_params.get(key)
                df[column] = [value] * len(df)
            frames.append(df)
        else:
            exc = results.failed.get(label)
            failed.append({
                "region": region, "params": call_params,
                "error": results.errors.get(label, status),
                "suggestion": (getattr(exc, "suggestion", "") or None) if exc else None,
            })
    frames = [f for f in frames if len(f)] or frames[:1]
    if frames:
        out = pd.concat(frames, ignore_index=True)
    else:
        out = pd.DataFrame(columns=["region", *varied])
    out.attrs["failed"] = failed
    if failed:
        log.warning("%s.%s failed in %d of %d (region, params) pairs: %s",
                    service, operation, len(failed), len(jobs), fold_failures(failed))
    return out


def fold_failures(failed: list[dict[str, Any]], width: int = 120, kinds: int = 3) -> str:
    """A short summary of failures: equal errors grouped with their regions, each error cut
    to ``width`` characters, at most ``kinds`` groups (a fan-out over 21 refused regions
    once logged a line of thousands of characters)."""
    groups: dict[str, list[str]] = {}
    for f in failed:
        text = " ".join(str(f["error"]).split())
        groups.setdefault(text if len(text) <= width else text[:width - 1] + "…", []).append(
            str(f["region"]))
    parts = []
    for text, regions in list(groups.items())[:kinds]:
        more = f" +{len(regions) - 3} more" if len(regions) > 3 else ""
        parts.append(f"{text} [{', '.join(regions[:3])}{more}]")
    if len(groups) > kinds:
        parts.append(f"+{len(groups) - kinds} other errors in attrs['failed']")
    return "; ".join(parts)

