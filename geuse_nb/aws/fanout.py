"""Fan AWS reads out over operations × regions (× parameter sets) in parallel → one DataFrame.

Every (operation, region, parameter set) triple is one ``pmap`` job answering one
``calls.call`` and reading its main list as ``calls.records`` does; all of them are
validated (service, operation, region, parameter names) before the first is sent, so a
typo is one ``UsageError``, not a failed job per region after the others were called.
The first half of each call (validation, the key, the cache lookup: ``CallPath.prepare``
and ``look``) runs for all jobs in the caller's thread before the map; a job answers
only its miss (``CallPath.answer``: single flight, request, store), so a warm fan-out's
jobs send nothing and a cold one's do no lookups under 64 threads (``_FanoutCall``).
Their records are stacked into one frame with a ``region`` column (an ``operation``
column when a list of operations is given, and one column per varied parameter). Triples
that failed are listed in ``frame.attrs["failed"]`` and logged, never dropped silently.

Why one call for several operations: four ``fanout`` calls one after another each wait
for their slowest region and their CPU tail before the next starts; measured at RTT 60 ms,
16 workers, 4 operations × 16 regions, that was 1.31× a hand-written ThreadPoolExecutor
over the 64 calls, where one map over all 64 jobs is as fast as that pool
(``geuse-nb bench fanout``).

Order: longest processing time first. Before submitting, the jobs are sorted by the
latency this kit has recorded for their (service, region, operation) in its own
``api_calls`` table (the lower median of the latest few uncached attempts; the region's
for an operation not seen there; unseen regions first, since their latency is unknown and
their first call also pays a handshake). Latencies are compared in bands of 25 %, so
regions of equal RTT keep their given order instead of being shuffled by noise. On the
sandbox's distance-based network (RTT 1–240 ms from us-east-1) a FIFO pool ends when the
last far region it started late ends; starting far regions first is what makes the kit
faster than the expert's pool there (``geuse-nb bench fanout_far``).
"""

from __future__ import annotations

import itertools
import logging
import math
import statistics
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import UsageError
from ..states import JobStatus

if TYPE_CHECKING:
    import pandas as pd

    from ..config import Settings
    from ..engine.parallel import Engine
    from .assumed import RoleTarget

log = logging.getLogger(__name__)


HISTORY_SCAN = 2000  # api_calls rows read back (newest first) to estimate latencies
HISTORY_PER_KEY = 8  # latest uncached attempts per (region, operation) that count
BAND = math.log(1.25)  # latencies within 25 % of each other count as equal
CALL_OPTIONS = ("ttl", "refresh", "kind")  # keywords of calls.call, not AWS parameters


class FanoutJob(NamedTuple):
    """One job of a fan-out; ``account`` is None for the kit's own identity. Its endpoint,
    for sizing, is (service, region) whatever the account: accounts sign on the kit's own
    pooled clients (``assumed.py``), so they share its connections."""

    operation: str
    region: str
    params: dict[str, Any]
    account: RoleTarget | None = None


class _FanoutCall:
    """One job of a fan-out: ``calls.call`` for the (operation, region, params) behind a
    label → the response's main list as record dicts (as ``calls.records`` reads it).

    Records, not a DataFrame per job: one frame built from every job's rows at the end
    costs ~5 ms for 64 jobs, where 64 per-job frames concatenated over the union of four
    operations' columns cost ~250 ms of CPU (measured; ``geuse-nb bench fanout``).
    Module-level and plain so that it pickles by reference onto Dask workers.
    """

    def __init__(self, calls: Any, service: str,
                 jobs: Mapping[str, FanoutJob]) -> None:
        self.calls = calls
        self.service = service
        self.jobs = dict(jobs)
        self.looked: dict[str, tuple[Any, Any]] = {}  # label → (Read, CacheLookup)

    def look_all(self) -> None:
        """Validate, key and look up every job of the kit's own identity here, in one
        thread, before the map; a job then only answers its miss (``CallPath.answer``:
        the single flight, the request, the store). Done in each job, the keys and the
        lookups (memory, then a SQLite read per miss under 64 threads) cost ~15 % of a
        64-call fan-out's CPU at RTT 0 (1.33× the plain pool against 1.16×, paired).
        Jobs in other accounts look in their own job: their key needs their identity."""
        for label, (operation, region, given, account) in self.jobs.items():
            if account is not None:
                continue
            params, options = _split(given)
            read = self.calls.prepare(self.service, operation, region, params, **options)
            self.looked[label] = (read, self.calls.look(read))

    def __call__(self, label: str) -> list[dict[str, Any]]:
        from .assumed import account_calls
        from .calls import main_list

        looked = self.looked.get(label)
        if looked is not None:
            read, found = looked
            op = read.op
            result = found.value if found.hit else self.calls.answer(read)
        else:
            operation, region, given, account = self.jobs[label]
            params, options = _split(given)
            calls = account_calls(self.calls, account)
            region, op = calls.resolve(self.service, operation, region, params)
            result = calls.call(self.service, op.snake, region, **options, **params)
        key, items = main_list(result, op.pagination)
        if key is None:
            return [{k: v for k, v in result.items() if k != "ResponseMetadata"}]
        if items and not all(isinstance(i, Mapping) for i in items):
            return [{key: i} for i in items]
        return [dict(i) for i in items]


def _split(given: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A job's keywords → (AWS parameters, ``calls.call`` options: ``CALL_OPTIONS``)."""
    params = {k: v for k, v in given.items() if k not in CALL_OPTIONS}
    return params, {k: v for k, v in given.items() if k in CALL_OPTIONS}


def expected_latencies(rows: Sequence[Mapping[str, Any]], service: str,
                       pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], float | None]:
    """Seconds each (operation, region) is expected to take, from ``api_calls`` rows (oldest
    first): the lower median of its latest uncached attempts, else its region's over any
    operation of ``service``, else None (never seen). The lower median, because a region's
    first call also pays a handshake and the far end's warm-up (1.2 s on a fresh sandbox
    region against 9 ms after): with two samples the plain median is half that outlier."""
    wanted = set(pairs)
    regions = {region for _, region in wanted}
    by_pair: dict[tuple[str, str], list[float]] = {}
    by_region: dict[str, list[float]] = {}
    full = 0
    for row in reversed(rows[-HISTORY_SCAN:]):
        region = row.get("region")
        if row.get("cache_hit") or row.get("service") != service or region not in regions:
            continue
        latency = row.get("latency")
        if not isinstance(latency, int | float) or latency <= 0:
            continue
        pair = (str(row.get("operation")), str(region))
        if pair in wanted and len(by_pair.setdefault(pair, [])) < HISTORY_PER_KEY:
            by_pair[pair].append(float(latency))
            if len(by_pair[pair]) == HISTORY_PER_KEY:
                full += 1
                if full == len(wanted):
                    break  # every pair has its latest attempts: older rows cannot count
        if len(by_region.setdefault(str(region), [])) < HISTORY_PER_KEY:
            by_region[str(region)].append(float(latency))
    out: dict[tuple[str, str], float | None] = {}
    for pair in wanted:
        seen = by_pair.get(pair) or by_region.get(pair[1])
        out[pair] = statistics.median_low(seen) if seen else None
    return out


def longest_first(labels: Sequence[str], expected: Mapping[str, float | None]) -> list[str]:
    """``labels`` sorted longest expected latency first (unknown = longest), stable within a
    25 % band, so equal regions keep their order."""
    def key(label: str) -> float:
        seconds = expected.get(label)
        return -math.inf if seconds is None else -round(math.log(seconds) / BAND)

    return sorted(labels, key=key)


def interleaved(jobs: Mapping[str, FanoutJob]) -> list[str]:
    """The labels with accounts taken in turn (a1, a2, …, a1, a2, …): the first workers then
    start in different accounts and send their AssumeRoles at once. Account by account, the
    jobs of one account queued behind its one AssumeRole, and 16 accounts × 8 jobs at 12
    workers took ~1.5× as long (measured at RTT 60 ms). Without accounts: the given order."""
    groups: dict[object, list[str]] = {}
    for label, job in jobs.items():
        groups.setdefault(job.account, []).append(label)
    if len(groups) == 1:
        return list(jobs)
    return [label for turn in itertools.zip_longest(*groups.values()) for label in turn
            if label is not None]


def _operations(operation: str | Sequence[str]) -> list[str]:
    names = [operation] if isinstance(operation, str) else list(operation)
    if not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise UsageError(f"operation={operation!r} is not valid",
                         suggestion='pass an operation name such as "describe_vpcs", or a '
                                    'list of them')
    return list(dict.fromkeys(names))


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


def in_flight(endpoints: Iterable[Hashable], settings: Settings) -> int:
    """How many of a fan-out's requests to send at once by default: every job, up to
    ``pool_max_connections`` per distinct endpoint (the pool's per-endpoint cap: more only
    queue for a connection) and ``parallel_max_in_flight`` in all. ``endpoints`` has one
    entry per job: what identifies the connection pool it uses, (service, region) for a
    kit's calls in any account.
    """
    per_endpoint = Counter(endpoints)
    cap = settings.pool_max_connections
    return max(1, min(settings.parallel_max_in_flight,
                      sum(min(n, cap) for n in per_endpoint.values())))


def fanout(engine: Engine, calls: Any, service: str, operation: str | Sequence[str],
           regions: str | Iterable[str] | None, *,
           param_sets: Iterable[Mapping[str, Any]] | None = None, desc: str | None = None,
           n_jobs: int | None = None, default_region: str,
           accounts: Iterable[str] | str | None = None, role_name: str | None = None,
           external_id: str | None = None, backend: str | None = None,
           **params: Any) -> pd.DataFrame:
    """``calls.records(service, op, region, **params)`` over operations × regions (× param
    sets), as one map, longest expected latency first.

    ``operation`` is one name or a list of names. Returns one DataFrame with a ``region``
    column, an ``operation`` column when a list was given, and, with ``param_sets``, one
    column per parameter they set (prefixed ``param_`` if the records already have that
    name). ``frame.attrs["failed"]``: one dict (operation, region, params, error,
    suggestion) per failed job (the run's per-job rows are in the recorder's ``jobs`` table).

    ``accounts`` (ids or ``"all"``): every job also runs in each account, as its role; the
    frame gets an ``account`` column first, and an account whose role cannot be assumed
    is one failure (``accounts.py``), not one per job.
    """
    import pandas as pd

    from .accounts import check_accounts, fold_refused, resolve_targets

    operations = _operations(operation)
    many = not isinstance(operation, str)
    if accounts is not None:
        check_accounts(accounts)  # bad ids fail before anything is sent, "all" included
    targets = resolve_targets(accounts, calls, role_name, external_id)
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
    jobs: dict[str, FanoutJob] = {}
    for target in targets:
        for op in operations:
            for region in names:
                for i, extra in enumerate(sets):
                    label = region if not many else f"{op}@{region}"
                    label = label if len(sets) == 1 else f"{label}#{i}"
                    label = label if target is None else f"{target.account}/{label}"
                    jobs[label] = FanoutJob(op, region, {**params, **extra}, target)
    checked: set[tuple[str, str, frozenset[str]]] = set()
    for op, region, call_params, _ in jobs.values():  # bad input fails here: nothing is sent
        names_given = frozenset(k for k in call_params if k not in CALL_OPTIONS)
        if (op, region, names_given) not in checked:
            calls.resolve(service, op, region, dict.fromkeys(names_given))
            checked.add((op, region, names_given))
    recorder = getattr(calls, "recorder", None)
    history = recorder.tail("api_calls", HISTORY_SCAN) if recorder is not None else []
    latency = expected_latencies(history, service, {(j.operation, j.region)
                                                    for j in jobs.values()})
    order = longest_first(interleaved(jobs), {label: latency[(j.operation, j.region)]
                                              for label, j in jobs.items()})
    name = f"{service}.{operations[0]}" + (f" +{len(operations) - 1}" if many else "")
    # accounts share the kit's connection pools (assumed.py signs per request), so the
    # endpoint of a job is (service, region) whichever account it runs in
    sized = in_flight(((service, j.region) for j in jobs.values()), calls.settings)
    job = _FanoutCall(calls, service, jobs)
    job.look_all()
    results = engine.pmap(job, order, desc=desc or name, n_jobs=n_jobs, in_flight=sized,
                          backend=backend)

    varied = list(dict.fromkeys(k for s in sets for k in s)) if param_sets is not None else []
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    failed = []
    statuses, values = results.statuses, results.values  # properties building dicts: once
    for label in jobs:  # the given order (operation, region, set), not the run's order
        status = statuses[label]  # the job keys are the labels above
        op, region, call_params, target = jobs[label]
        if status == JobStatus.DONE:
            records = values[label] or []
            for record in records:
                seen.update(record)
                head: dict[str, Any] = {} if target is None else {"account": target.account}
                head["region"] = region
                if many:
                    head["operation" if "operation" not in record else "fanout_operation"] = op
                row = {**head, **record}
                for key in varied:
                    row[key if key not in record else f"param_{key}"] = call_params.get(key)
                rows.append(row)
        else:
            exc = results.failed.get(label)
            failed.append({
                **({} if target is None else {"account": target.account}),
                "operation": op, "region": region, "params": call_params,
                "error": results.errors.get(label, status),
                "suggestion": (getattr(exc, "suggestion", "") or None) if exc else None,
                "refused": getattr(exc, "target", None),
            })
    failed = fold_refused(failed)
    columns = [*(["account"] if accounts is not None else []), "region",
               *(["operation"] if many else []),
               *(f"param_{k}" if k in seen else k for k in varied)]
    out = pd.DataFrame.from_records(rows) if rows else pd.DataFrame(columns=columns)
    out.attrs["failed"] = failed
    if failed:
        log.warning("%s failed in %d of %d jobs: %s", name,
                    sum(f.get("jobs", 1) for f in failed), len(jobs), fold_failures(failed))
    return out


def fold_failures(failed: list[dict[str, Any]], width: int = 120, kinds: int = 3) -> str:
    """A short summary of failures: equal errors grouped with their regions, each error cut
    to ``width`` characters, at most ``kinds`` groups (a fan-out over 21 refused regions
    once logged a line of thousands of characters)."""
    groups: dict[str, list[str]] = {}
    for f in failed:
        text = " ".join(str(f["error"]).split())
        groups.setdefault(text if len(text) <= width else text[:width - 1] + "…", []).append(
            str(f["region"] or f.get("account")))
    parts = []
    for text, regions in list(groups.items())[:kinds]:
        more = f" +{len(regions) - 3} more" if len(regions) > 3 else ""
        parts.append(f"{text} [{', '.join(regions[:3])}{more}]")
    if len(groups) > kinds:
        parts.append(f"+{len(groups) - kinds} other errors in attrs['failed']")
    return "; ".join(parts)

