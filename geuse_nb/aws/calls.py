"""The AWS call path: validate, look in the cache, call through the pool, merge pages, store.

``CallPath.call("ec2", "describe-instances", region="eu-west-1", Filters=[...])``

1. Validate before anything is sent: the service, the region, the operation
   (botocore ``describe_instances``, CLI ``describe-instances`` or API
   ``DescribeInstances``) and every parameter name; a mistake raises ``UsageError``
   naming the closest valid names. Spellings meet through ``kinds.snake_name``; each
   API name is indexed under that and under boto3's own method name (``xform_name``),
   which differ for 56 of botocore's ~20,000 operations (``ListHITs``: ``list_hi_ts``
   vs ``list_hits``), so both spellings of those work too.
2. Read operations (describe/get/list) look in the cache under the one key builder
   (``cache.keys.make_key``: identity, region, service, operation, normalised params).
   A hit is recorded in ``api_calls`` with ``cache_hit=True`` (attempt 0, no request).
3. A miss goes through ``cache.single_flight``: threads missing the same key at once
   make one request and share its answer or its error (recorded as cache hits: they
   sent nothing). The request goes through the pooled client. A pageable operation is
   sent as a direct call first; only when that page carries a continuation token does
   botocore's paginator take over from it (its ``StartingToken``), and the pages are
   merged. Most describe answers are one page, and building a paginator for them cost
   150-450 µs of CPU per call here (the paginator class, a deep copy of the parameters,
   its page loop), a third of the call's whole client CPU at RTT 0. Every HTTP attempt
   is recorded by the pool's event hooks.
4. Reads are stored; writes are never cached and invalidate nothing (a later read
   may return a value cached before the write: pass ``refresh=True`` after writes).

Failures become ``AwsCallError`` with a suggestion (``aws/errors.py``); expired
credentials are renewed once by ``ClientPool.renewing``. When a read fails
with a retryable error and ``cache_stale_if_error`` > 0, an expired entry no older
than that is served instead, and counted as ``cache.stale_served``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import jmespath

from ..cache import keys as _keys
from ..cache.tiered import CacheLookup
from ..errors import UsageError, did_you_mean
from ..kinds import is_read_operation, kind_of, snake_name
from ._pages import chain, merge_pages, names, next_token
from .errors import is_retryable, to_aws_error
from .responses import compact

if TYPE_CHECKING:
    import pandas as pd

    from ..cache.tiered import TieredCache
    from ..config import Settings
    from ..observe.metrics import Recorder
    from .pool import ClientPool

log = logging.getLogger(__name__)

VALID_MEMO = 4096  # validated (service, operation, region, parameter names) remembered


class _Operation:
    """What validation learned about one (service, operation)."""

    __slots__ = ("api", "drop", "input_token", "kind", "members", "more_results",
                 "output_token", "pagination", "read", "snake")

    def __init__(self, api: str, snake: str, members: frozenset[str],
                 pagination: dict[str, Any] | None, service: str) -> None:
        self.api = api
        self.snake = snake
        self.members = members
        self.pagination = pagination
        self.read = is_read_operation(snake)
        self.kind = kind_of(service, snake)  # the default kind of its answers (TTL table)
        config = pagination or {}
        inputs = names(config.get("input_token"))
        self.input_token = frozenset(inputs)
        outputs = names(config.get("output_token"))
        more = config.get("more_results")
        self.output_token = [(name, jmespath.compile(expr))
                             for name, expr in zip(inputs, outputs, strict=False)]
        self.more_results = jmespath.compile(more) if isinstance(more, str) else None
        # "NextMarker || Contents[-1].Key" names the top-level key NextMarker
        dropped = {part.strip() for expr in [*outputs, *names(more)]
                   for part in expr.split("||")}
        self.drop = frozenset(name for name in dropped if name.isidentifier())


class Read(NamedTuple):
    """One call, validated and keyed (``CallPath.prepare``): ``key`` None for a write;
    ``refresh``: sent without a lookup or a flight; ``epoch`` the flight epoch before its
    lookup, ``start`` when it was prepared."""

    service: str
    op: _Operation
    region: str
    params: dict[str, Any]
    key: str | None
    kind: str | None
    ttl: float | None
    refresh: bool
    epoch: int
    start: float


_MISSED = CacheLookup(False, None, None, False)


class CallPath:
    """Cached, paginated, recorded AWS calls over a ``ClientPool``."""

    def __init__(self, pool: ClientPool, cache: TieredCache, recorder: Recorder) -> None:
        self._setup(pool, cache, recorder)

    def _setup(self, pool: ClientPool, cache: TieredCache, recorder: Recorder) -> None:
        self.pool = pool
        self.cache = cache
        self.recorder = recorder
        self._lock = threading.Lock()
        self._op_names: dict[str, dict[str, str]] = {}  # service → snake spelling → API
        self._ops: dict[tuple[str, str], _Operation] = {}
        # (service, operation as given, region, parameter names) → a call that validated
        self._valid: dict[tuple[Any, ...], tuple[str, _Operation]] = {}

    @property
    def settings(self) -> Settings:
        return self.pool.settings

    def __getstate__(self) -> dict[str, Any]:
        """Pickles as its pool and cache (no credentials, no locks), for process workers;
        there it records into a recorder of its own (the parent's cannot be shared), whose
        rows the engine's remote tasks carry home (``observe.metrics.worker_rows``)."""
        return {"pool": self.pool, "cache": self.cache}

    def __setstate__(self, state: dict[str, Any]) -> None:
        from ..observe.metrics import Recorder

        pool = state["pool"]
        recorder = Recorder(pool.settings).ship_home()  # its rows go home with job results
        if pool.recorder is None:  # a freshly unpickled pool has no clients yet
            pool.recorder = recorder
        self._setup(pool, state["cache"], recorder)

    # ------------------------------------------------------------ validation
    def resolve(self, service: str, operation: str, region: str | None = None,
                params: Mapping[str, Any] | None = None) -> tuple[str, _Operation]:
        """Validate a call without sending it; returns (region, operation info).

        Raises ``UsageError`` for an unknown service, region, operation or parameter.
        A call that validated is remembered by its names (services, regions and operations
        do not change within a process): the checks cost ~30 µs of a call's CPU at RTT 0
        when the CPU's caches are cold from the request before, a dict lookup ~2.
        """
        if not isinstance(service, str) or not isinstance(operation, str):
            raise UsageError(f"service and operation must be strings, got {service!r}, "
                             f"{operation!r}", suggestion="e.g. call('ec2', 'describe_regions')")
        region = region or self.pool.backend.default_region
        memo = (service, operation, region, *params) if params else (service, operation, region)
        valid = self._valid.get(memo)
        if valid is not None:
            return valid
        self.pool.check_service(service)
        self.pool.check_region(region, service)
        op = self._operation(service, operation, region)
        unknown = [p for p in (params or ()) if p not in op.members]
        if unknown:
            said = "; ".join(f"{p!r}{did_you_mean(p, op.members)}" for p in unknown)
            raise UsageError(
                f"{service}.{op.snake} has no parameter {said}",
                suggestion="valid parameters: " + (", ".join(sorted(op.members)) or "none"),
            )
        if len(self._valid) >= VALID_MEMO:
            self._valid.clear()
        self._valid[memo] = (region, op)
        return region, op

    def _operation(self, service: str, operation: str, region: str) -> _Operation:
        names = self._op_names.get(service)
        if names is None:
            from botocore import xform_name

            model = self.pool.client(service, region).meta.service_model
            names = {}
            for api in model.operation_names:
                names[snake_name(api)] = names[xform_name(api)] = api
            with self._lock:
                self._op_names[service] = names
        api = names.get(snake_name(operation))
        if api is None:
            from botocore import xform_name

            snakes = {xform_name(a) for a in names.values()}
            hint = did_you_mean(snake_name(operation), snakes)
            raise UsageError(
                f"{service} has no operation {operation!r}{hint}",
                suggestion=f"see boto3's {service} client docs for its operations",
            )
        op = self._ops.get((service, api))
        if op is None:
            op = self._describe(service, api, region)
            with self._lock:
                self._ops[(service, api)] = op
        return op

    def _describe(self, service: str, api: str, region: str) -> _Operation:
        from botocore import xform_name

        client = self.pool.client(service, region)
        shape = client.meta.service_model.operation_model(api).input_shape
        members = set(shape.members) if shape is not None else set()
        snake = xform_name(api)
        pagination = self.pool.paginator_config(service, api) if client.can_paginate(
            snake) else None
        if pagination is not None:
            members.add("PaginationConfig")
        return _Operation(api, snake, frozenset(members), pagination, service)

    # ------------------------------------------------------------ calling
    def call(self, service: str, operation: str, region: str | None = None, *,
             ttl: float | None = None, refresh: bool = False, kind: str | None = None,
             **params: Any) -> dict[str, Any]:
        """One AWS call: validated, cached for reads, paginated and merged, recorded."""
        read = self.prepare(service, operation, region, params, ttl=ttl, kind=kind,
                            refresh=refresh)
        found = self.look(read)
        return found.value if found.hit else self.answer(read)

    def prepare(self, service: str, operation: str, region: str | None,
                params: dict[str, Any], *, ttl: float | None = None,
                kind: str | None = None, refresh: bool = False) -> Read:
        """Validate a call and build its cache key (None for a write): the first half of
        ``call``, which a fan-out runs for all its jobs in one thread before the map."""
        region, op = self.resolve(service, operation, region, params)
        if not op.read:
            return Read(service, op, region, params, None, None, ttl, True, 0, 0.0)
        key = _keys.call_key(self.pool.scope(), region, service, op.snake, params)
        return Read(service, op, region, params, key, kind or op.kind, ttl, refresh,
                    self.cache.flight.epoch, time.perf_counter())

    def look(self, read: Read) -> CacheLookup:
        """``read``'s cache lookup (a miss for a write or a refresh); a hit is recorded."""
        if read.key is None or read.refresh:
            return _MISSED
        found = self.cache.lookup(read.key, kind=read.kind)
        if found.hit:
            self._hit(read)
        return found

    def answer(self, read: Read) -> dict[str, Any]:
        """The second half of ``call``, after a miss (or for a write, or a refresh):
        concurrent identical misses make one request (``single_flight``), which stores."""
        service, op, region, params, key, kind, ttl = read[:7]
        if key is None:
            return self._send(service, op, region, params)
        if read.refresh:  # no lookup, no flight
            return self._fetch(key, kind, ttl, service, op, region, params)
        value, shared = self.cache.single_flight(
            key, lambda: self._fetch(key, kind, ttl, service, op, region, params), kind=kind,
            since=read.epoch)
        if shared:  # answered by another thread's request (or its store): none of its own
            self._hit(read)
        return value

    def _hit(self, read: Read) -> None:
        self.recorder.record_api_call(
            service=read.service, operation=read.op.snake, region=read.region,
            latency=time.perf_counter() - read.start, attempt=0, cache_hit=True,
            account=self.pool.account)

    def _fetch(self, key: str, kind: str | None, ttl: float | None, service: str, op: _Operation,
               region: str, params: dict[str, Any]) -> dict[str, Any]:
        """A read's miss: send, serve stale on a retryable error if allowed, store."""
        try:
            result = self._send(service, op, region, params)
        except UsageError:
            raise
        except Exception as exc:
            stale_for = self.settings.stale_for(kind)
            if stale_for > 0 and is_retryable(exc):
                found = self.cache.lookup(key, kind=kind, allow_stale=stale_for)
                if found.hit:
                    self.recorder.count("cache.stale_served")
                    log.warning("%s.%s in %s failed (%s); serving a cached value",
                                service, op.snake, region, getattr(exc, "error_code", exc))
                    return found.value
            raise
        result = compact(result)  # what is cached and what is returned are the same object
        self.cache.store(key, result, kind=kind, ttl=ttl)
        return result

    def _send(self, service: str, op: _Operation, region: str,
              params: dict[str, Any]) -> dict[str, Any]:
        """Call through the pooled client (renewed once on expired credentials)."""
        import botocore.exceptions as bx

        def attempt() -> dict[str, Any]:
            client = self.pool.client(service, region)
            if "PaginationConfig" in params:  # the caller's MaxItems/PageSize: botocore's
                pages = client.get_paginator(op.snake).paginate(**params)
                return merge_pages(pages, pages.result_keys, op.drop)
            response: dict[str, Any] = getattr(client, op.snake)(**params)
            if op.pagination is None or op.input_token & params.keys():
                return response
            token = next_token(response, op)
            if token is None:  # one page, the usual answer: no paginator was needed
                return {k: v for k, v in response.items() if k not in op.drop}
            rest = client.get_paginator(op.snake).paginate(
                **params, PaginationConfig={"StartingToken": token})
            return merge_pages(chain(response, rest), rest.result_keys, op.drop)

        try:
            return self.pool.renewing(attempt)
        except bx.ParamValidationError as exc:
            raise UsageError(f"bad parameters for {service}.{op.snake}: {exc}",
                             suggestion="fix the parameter types or add the missing ones; "
                                        "nothing was sent") from None
        except (bx.ClientError, bx.BotoCoreError, ConnectionError) as exc:
            raise to_aws_error(exc, service, op.snake, region) from exc

    # ------------------------------------------------------------ records
    def records(self, service: str, operation: str, region: str | None = None, *,
                ttl: float | None = None, refresh: bool = False, kind: str | None = None,
                **params: Any) -> pd.DataFrame:
        """``call`` and return the response's main list as a DataFrame with a ``region`` column.

        The main list is the paginator's result key, else the one list-valued
        top-level key; a response with no list gives one row of its scalar fields.
        """
        import pandas as pd

        region, op = self.resolve(service, operation, region, params)
        result = self.call(service, op.snake, region, ttl=ttl, refresh=refresh, kind=kind,
                           **params)
        key, items = main_list(result, op.pagination)
        if key is None:
            frame = pd.DataFrame([{k: v for k, v in result.items() if k != "ResponseMetadata"}])
        elif items and not all(isinstance(i, Mapping) for i in items):
            frame = pd.DataFrame({key: items})
        else:
            frame = pd.DataFrame.from_records(items)
        if "region" not in frame.columns:
            frame.insert(0, "region", region)
        frame.attrs["source"] = {"service": service, "operation": op.snake, "key": key}
        return frame


def main_list(result: Mapping[str, Any],
              pagination: Mapping[str, Any] | None = None) -> tuple[str | None, list[Any]]:
    """(key, items) of a response's main list; ``(None, [])`` when it has none.

    Raises ``UsageError`` when several top-level lists compete and no paginator says
    which one is the result.
    """
    result_keys = (pagination or {}).get("result_key") or ()
    for name in [result_keys] if isinstance(result_keys, str) else result_keys:
        if isinstance(result.get(name), list):
            return name, result[name]
    lists = [k for k, v in result.items() if isinstance(v, list)]
    if len(lists) == 1:
        return lists[0], result[lists[0]]
    if not lists:
        return None, []
    raise UsageError(f"the response has several lists ({', '.join(lists)}); records() cannot "
                     "tell which one to return", suggestion="use call() and pick the key")
