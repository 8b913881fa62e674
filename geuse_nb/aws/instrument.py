"""What a pooled client reports: its TCP connections, and every HTTP attempt it makes.

Two hooks, both installed once when the pool makes a client:

- urllib3: botocore's connection-pool classes are swapped for subclasses that count
  every TCP connect (reconnects included) and make each pool *blocking*, so
  ``pool_max_connections`` is a hard cap per endpoint and an extra thread waits for a
  free connection instead of opening one that is then thrown away. Its ``PoolManager``
  finds a request's pool key by the URL's origin (``scheme://host:port``, remembered)
  instead of parsing the URL and building urllib3's 25-field pool key on every request:
  that was ~50 µs of a ~1.1 ms call's CPU at RTT 0 (4.5 %, 3,000 calls alternated with a
  client without it). The pool itself still comes from urllib3's LRU of pools, so
  evictions and ``clear()`` behave as before. botocore's proxy choice and request
  target, pure functions of the URL, are remembered per URL too.
- botocore events: ``before-send`` stamps the attempt's start, ``response-received``
  counts the request and records one ``api_calls`` row (retries and connection errors
  included) in the metrics recorder. Recording costs about a microsecond per attempt
  (measured by the removed ``bench_metrics.py``; its figures are in ``bench/README.md``).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..observe.metrics import Recorder

_T0 = "geuse_nb.t0"  # key of the per-attempt start time in botocore's request context
ACCOUNT_KEY = "geuse_nb.account"  # the account a request ran in (set by ``assumed.py``)


class ClientStat:
    """Counters of one (service, region); they outlive client rebuilds."""

    __slots__ = ("clients_created", "connections", "last_used", "lock", "region", "requests",
                 "service")

    def __init__(self, service: str, region: str) -> None:
        self.service = service
        self.region = region
        self.clients_created = 0
        self.requests = 0
        self.connections = 0
        self.last_used: float | None = None
        self.lock = threading.Lock()

    def connection_opened(self) -> None:
        with self.lock:
            self.connections += 1


class PooledClient:
    """One pooled client, its counters, and when it was last touched (monotonic seconds)."""

    __slots__ = ("client", "stat", "touched")

    def __init__(self, client: Any, stat: ClientStat) -> None:
        self.client = client
        self.stat = stat
        self.touched = time.monotonic()


# ---------------------------------------------------------------- urllib3
class _CountingConnection:
    """Mixed into botocore's connection classes: counts every TCP connect."""

    _geuse_stat: ClientStat

    def connect(self) -> None:
        self._geuse_stat.connection_opened()
        super().connect()  # type: ignore[misc]  # a mixin: the next class in the MRO has it


class _WaitingPool:
    """Mixed into botocore's connection pools: a blocking pool waits at most ``_geuse_wait``."""

    _geuse_wait: float

    def _get_conn(self, timeout: float | None = None) -> Any:
        wait = self._geuse_wait if timeout is None else timeout
        return super()._get_conn(wait)  # type: ignore[misc]  # mixin: urllib3's pool has it


def instrument_http(client: Any, stat: ClientStat, wait: float) -> None:
    """Make the client's urllib3 pools blocking and count their connections; its pool
    manager finds a request's pool by the URL's origin (``_PoolByOrigin``).

    Reaches into botocore's ``URLLib3Session`` (``_endpoint.http_session._manager``):
    that is where botocore keeps the urllib3 ``PoolManager`` and its pool classes.
    Pools are created on first request, so swapping the classes now covers them all.
    """
    http = client._endpoint.http_session
    managers = [http._manager, *getattr(http, "_proxy_managers", {}).values()]
    classes = {}
    for scheme, pool_cls in dict(managers[0].pool_classes_by_scheme).items():
        conn_cls = type(f"Counted{pool_cls.ConnectionCls.__name__}",
                        (_CountingConnection, pool_cls.ConnectionCls), {"_geuse_stat": stat})
        classes[scheme] = type(f"Pooled{pool_cls.__name__}", (_WaitingPool, pool_cls),
                               {"ConnectionCls": conn_cls, "_geuse_wait": wait})
    for manager in managers:
        manager.pool_classes_by_scheme = classes
        manager.connection_pool_kw["block"] = True
        if not isinstance(manager, _PoolByOrigin):
            manager._geuse_keys = {}
            manager._geuse_asking = threading.local()
            manager_cls: type = type(manager)
            manager.__class__ = _keyed(manager_cls)
    # both depend on the URL alone (the proxies are fixed when botocore builds the session)
    http._path_url = _remembered(http._path_url)
    http._proxy_config.proxy_url_for = _remembered(http._proxy_config.proxy_url_for)


ORIGINS_KEPT = 64  # origins remembered per manager (S3's virtual hosts: one per bucket)


class _PoolByOrigin:
    """Mixed into botocore's urllib3 ``PoolManager``: a URL's pool key found by its origin.

    urllib3 answers ``connection_from_url`` by parsing the URL, merging the pool keywords
    and building a pool key, the same work for every request to one endpoint. The key
    (and the context a new pool is built from) is remembered by the URL's text up to its
    path, the first time urllib3 computes it; later requests go straight to urllib3's
    ``connection_from_pool_key``, so its LRU of pools, evictions and ``clear()`` behave
    as before (an evicted endpoint gets a new pool, as it would have).
    """

    _geuse_keys: dict[str, tuple[Any, dict[str, Any]]]
    _geuse_asking: threading.local

    def connection_from_url(self, url: str, pool_kwargs: dict[str, Any] | None = None) -> Any:
        if pool_kwargs is None:  # pools built with other keywords: urllib3's own path
            end = url.find("/", url.find("//") + 2)
            origin = url if end < 0 else url[:end]
            known = self._geuse_keys.get(origin)
            if known is not None:
                return self.connection_from_pool_key(known[0], request_context=dict(known[1]))
            self._geuse_asking.origin = origin  # remembered by connection_from_pool_key
        try:
            return super().connection_from_url(url, pool_kwargs)  # type: ignore[misc]
        finally:
            self._geuse_asking.origin = None

    def connection_from_pool_key(self, pool_key: Any, request_context: dict[str, Any]) -> Any:
        asking = self._geuse_asking
        origin = getattr(asking, "origin", None)
        if origin is not None:
            asking.origin = None
            if len(self._geuse_keys) >= ORIGINS_KEPT:
                self._geuse_keys.clear()
            self._geuse_keys[origin] = (pool_key, dict(request_context))  # urllib3 pops it
        return super().connection_from_pool_key(  # type: ignore[misc]  # a mixin
            pool_key, request_context=request_context)


@functools.cache
def _keyed(manager_cls: type) -> type:
    return type(f"Keyed{manager_cls.__name__}", (_PoolByOrigin, manager_cls), {})


def _remembered(of_url: Callable[[str], Any]) -> Callable[[str], Any]:
    """``of_url`` (a pure function of a URL string) with its last ``ORIGINS_KEPT`` answers
    kept: botocore parses every request's URL twice (``urlparse``) for its proxy and its
    request target, ~6 µs each at RTT 0, for an endpoint's same few URLs."""
    answers: dict[str, Any] = {}

    def remembered(url: str) -> Any:
        try:
            return answers[url]
        except KeyError:
            pass
        answer = of_url(url)
        if len(answers) >= ORIGINS_KEPT:
            answers.clear()
        answers[url] = answer
        return answer

    return remembered


# ---------------------------------------------------------------- botocore events
def install_hooks(client: Any, entry: PooledClient, recorder: Recorder | None, *,
                  account: str | None = None) -> None:
    """Record every HTTP attempt (retries and connection errors included).

    The operation is recorded as boto3's method name (``xform_name`` of the API name),
    the same name the call path records its cache hits under.
    """
    from botocore import xform_name

    stat = entry.stat
    service, region = stat.service, stat.region
    perf = time.perf_counter
    wall = time.time
    mono = time.monotonic

    def stamp(request: Any, **_: Any) -> None:
        request.context[_T0] = perf()

    def received(event_name: str, response_dict: Any = None, parsed_response: Any = None,
                 context: Any = None, exception: Any = None, **_: Any) -> None:
        end = perf()
        context = context or {}
        start = context.pop(_T0, None)
        with stat.lock:
            stat.requests += 1
            stat.last_used = wall()
        entry.touched = mono()
        if recorder is None or not recorder.enabled:
            return
        status = response_dict.get("status_code") if response_dict else None
        code = None
        if parsed_response:
            err = parsed_response.get("Error")
            if err:
                code = err.get("Code")
        elif exception is not None:
            code = type(exception).__name__
        attempt = context.get("retries", {}).get("attempt", 1)
        recorder.record_api_call(
            service=service, operation=xform_name(event_name.rsplit(".", 1)[-1]),
            region=region, latency=(end - start) if start is not None else 0.0,
            attempt=attempt, http_status=status, error_code=code, retried=attempt > 1,
            account=context.get(ACCOUNT_KEY, account),
        )

    events = client.meta.events
    events.register("before-send", stamp, unique_id="geuse_nb.stamp")
    events.register("response-received", received, unique_id="geuse_nb.received")
