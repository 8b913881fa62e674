"""The Kit: one object that owns the settings, sandbox, pool, cache, metrics and progress.

Every part below knows nothing of the Kit; the Kit wires them together. The
module-level ``init()``/``get_kit()`` keep one default Kit, which the
``geuse_nb.call``-style shortcuts use.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

from . import shared
from .aws.backend import Backend, aws_credentials_available, aws_region
from .config import Settings, debug_logging, resolve_settings
from .errors import UsageError
from .observe.metrics import Recorder, expecting

if TYPE_CHECKING:
    import pandas as pd

    from .aws.pool import ClientPool
    from .cache.memoize import Memoized
    from .cache.tiered import TieredCache
    from .engine.results import JobResults
    from .observe.progress import Progress
    from .observe.report import Report
    from .sandbox import Sandbox

log = logging.getLogger(__name__)


class Kit:
    """Fast, recorded, cached AWS from a notebook. Use as a context manager or call ``close()``."""

    def __init__(
        self,
        name: str = "geuse",
        *,
        backend: str | None = None,
        settings: Settings | None = None,
        sandbox: Sandbox | None = None,
        **overrides: Any,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise UsageError(f"kit name {name!r} is not valid", suggestion="pass a short label")
        self.name = name
        if backend is not None:
            overrides["backend"] = backend
        self.settings = settings.replace(**overrides) if settings else resolve_settings(**overrides)
        if self.settings.debug:
            debug_logging(True)  # logging is per process: a kit turns it on, never off
        self._closed = False
        self._close_lock = threading.Lock()
        self.metrics = Recorder(self.settings, kit_name=name)
        self.sandbox: Sandbox | None = None
        self._owns_sandbox = False
        self.backend = self._open_backend(sandbox)

        from .aws.calls import CallPath
        from .aws.errors import is_retryable, suggestion_for
        from .aws.pool import ClientPool
        from .cache.tiered import TieredCache
        from .engine.parallel import Engine
        from .observe.progress import Progress
        from .observe.resources import ResourceSampler

        self.progress: Progress = Progress(self.settings)
        self.pool: ClientPool = ClientPool(self.settings, self.backend, recorder=self.metrics)
        self.cache: TieredCache = TieredCache(self.settings, recorder=self.metrics)
        self._calls = CallPath(self.pool, self.cache, self.metrics)
        self._engine = Engine(self.settings, progress=self.progress, recorder=self.metrics,
                              retry_if=is_retryable, suggest=suggestion_for)
        self._sampler = ResourceSampler(self.metrics, self.settings.metrics_collection_interval)
        self._sampler.start()
        atexit.register(self.close)
        shared.adopt("kit", self._description(), self)

    # ------------------------------------------------------------ backend
    def _open_backend(self, sandbox: Sandbox | None) -> Backend:
        kind = self.settings.backend
        profile = self.settings.aws_profile
        if kind == "auto":
            kind = "aws" if aws_credentials_available(profile) else "sandbox"
            log.info("backend 'auto' chose %r (%s AWS credentials found)",
                     kind, "with" if kind == "aws" else "no")
        if kind == "aws":
            return Backend(kind="aws", profile=profile, default_region=aws_region(profile))
        from .sandbox import Sandbox

        if sandbox is None:
            if self.settings.sandbox_url:
                sandbox = Sandbox.join(self.settings.sandbox_url)
            else:
                sandbox = Sandbox(seed=self.settings.sandbox_seed,
                                  home_region=self.settings.sandbox_home_region).start()
                self._owns_sandbox = True
        self.sandbox = sandbox
        return Backend(
            kind="sandbox",
            default_region=self.settings.sandbox_home_region,
            profile=profile,
            sandbox_url=sandbox.url,
            endpoints={r: sandbox.endpoint_url(r) for r in sandbox.regions},
        )

    # ------------------------------------------------------------ AWS
    def client(self, service: str, region: str | None = None, *, account: str | None = None,
               role_name: str | None = None, external_id: str | None = None) -> Any:
        """The pooled, thread-safe boto3 client for (service, region); with ``account=``,
        one running as that account's role (``role_name``, default the setting)."""
        self._check_open()
        if account is None and role_name is None and external_id is None:
            return self.pool.client(service, region)
        return self._in(account, role_name, external_id).pool.boto3_client(service, region)

    def _in(self, account: str | None, role_name: str | None,
            external_id: str | None) -> Any:
        """The call path of ``account`` (checked before any request), or the kit's own."""
        if account is None and role_name is None and external_id is None:
            return self._calls
        from .aws.accounts import calls_as, role_target

        return calls_as(self._calls, role_target(account, self.settings, role_name,
                                                 external_id))

    def accounts(self, *, refresh: bool = False) -> pd.DataFrame:
        """The organization's accounts (account_id, name, email, status) from Organizations
        ListAccounts, paginated and cached; ``fanout(accounts="all")`` takes the ACTIVE ones."""
        self._check_open()
        from .aws.accounts import organization_accounts

        return organization_accounts(self._calls, refresh=refresh)

    @overload
    def call(self, service: str, operation: str, region: str | None = None, *,
             ttl: float | None = None, refresh: bool = False, kind: str | None = None,
             account: str | None = None, role_name: str | None = None,
             external_id: str | None = None, frame: Literal[False] = False,
             expect: Iterable[str] = (),
             **params: Any) -> dict[str, Any]: ...

    @overload
    def call(self, service: str, operation: str, region: str | None = None, *,
             ttl: float | None = None, refresh: bool = False, kind: str | None = None,
             account: str | None = None, role_name: str | None = None,
             external_id: str | None = None, frame: Literal[True],
             expect: Iterable[str] = (),
             **params: Any) -> pd.DataFrame: ...

    def call(self, service: str, operation: str, region: str | None = None, *,
             ttl: float | None = None, refresh: bool = False, kind: str | None = None,
             account: str | None = None, role_name: str | None = None,
             external_id: str | None = None, frame: bool = False, expect: Iterable[str] = (),
             **params: Any) -> dict[str, Any] | pd.DataFrame:
        """One AWS call: cached for reads, paginated and merged, recorded. With
        ``frame=True``, the response's main list as a DataFrame (as ``records``). With
        ``account=``, it runs as that account's role (``role_name``, ``external_id``).

        ``expect=("ValidationError",)``: error codes this call expects (a not-found probe);
        the error is still raised, but its ``api_calls`` row is marked ``expected`` and the
        report counts it as "expected not found", not as an error."""
        self._check_open()
        calls = self._in(account, role_name, external_id)
        answer = calls.records if frame else calls.call
        if expect == ():  # the default: no context to enter on every call
            return answer(service, operation, region, ttl=ttl, refresh=refresh, kind=kind,
                          **params)
        with expecting(_expected_codes(expect)):
            return answer(service, operation, region, ttl=ttl, refresh=refresh, kind=kind,
                          **params)

    def records(self, service: str, operation: str, region: str | None = None, *,
                account: str | None = None, role_name: str | None = None,
                external_id: str | None = None, **params: Any) -> pd.DataFrame:
        """``call`` and return the response's main list as a DataFrame with a ``region`` column."""
        self._check_open()
        return self._in(account, role_name, external_id).records(service, operation, region,
                                                                 **params)

    def fanout(self, service: str, operation: str | Sequence[str],
               regions: Iterable[str] | None = None, *,
               param_sets: Iterable[Mapping[str, Any]] | None = None, desc: str | None = None,
               n_jobs: int | None = None, accounts: Iterable[str] | str | None = None,
               role_name: str | None = None, external_id: str | None = None,
               backend: str | None = None, **params: Any) -> pd.DataFrame:
        """``records`` over operations × regions (× parameter sets) as one parallel map →
        one DataFrame (an ``operation`` column when ``operation`` is a list), slowest
        regions first by this kit's own latency history.

        ``accounts=[ids] | "all"``: also over accounts, each through its assumed role
        (``role_name``, ``external_id``); the frame gets an ``account`` column first.
        ``backend="dask"`` runs the jobs on the active dask.distributed client.
        Failed jobs are listed in ``frame.attrs["failed"]``, never dropped silently.
        """
        self._check_open()
        from .aws.fanout import fanout

        if regions == "all" and self.backend.kind == "sandbox":
            regions = list(self.backend.endpoints)  # moto lists 38; the sandbox serves these
        return fanout(self._engine, self._calls, service, operation, regions,
                      param_sets=param_sets, desc=desc, n_jobs=n_jobs,
                      default_region=self.backend.default_region, accounts=accounts,
                      role_name=role_name, external_id=external_id, backend=backend,
                      **params)

    def warm(self, calls: Iterable[Any], *, n_jobs: int | None = None) -> pd.DataFrame:
        """Fill the cache by running ``calls`` in parallel → one row per call (ok,
        cached_before, seconds, error). A call is ``{"service", "operation", "region",
        "params"}`` or a tuple ``(service, operation[, region[, params]])``; failures are
        rows with ``ok=False``, never an exception."""
        from .aws.warm import warm

        return warm(calls, call_path=self._calls, engine=self._engine, n_jobs=n_jobs)

    # ------------------------------------------------------------ parallel
    def pmap(self, fn: Callable[[Any], Any], items: Iterable[Any], *, desc: str | None = None,
             n_jobs: int | None = None, retries: int | None = None,
             timeout: float | None = None, backend: str | None = None) -> JobResults:
        """Run ``fn`` over ``items`` in parallel; values come back in input order."""
        return self._engine.pmap(fn, items, desc=desc, n_jobs=n_jobs, retries=retries,
                                 timeout=timeout, backend=backend)

    def jobs(self, spec: Mapping[str, Any], *, desc: str | None = None,
             n_jobs: int | None = None, retries: int | None = None,
             timeout: float | None = None) -> JobResults:
        """Named jobs with dependencies: ``{"vpc": f, "sg": (g, ["vpc"])}``."""
        return self._engine.jobs(spec, desc=desc, n_jobs=n_jobs, retries=retries,
                                 timeout=timeout)

    def cancel(self) -> None:
        """Stop the running map or DAG (from another thread or a notebook button): pending
        jobs are not started, running ones are marked cancelled, finished values are kept."""
        self._engine.cancel()

    # ------------------------------------------------------------ cache, report
    @overload
    def cached(self, fn: Callable[..., Any], *, ttl: float | None = None,
               kind: str | None = None, ignore: Iterable[str] = ()) -> Memoized: ...

    @overload
    def cached(self, fn: None = None, *, ttl: float | None = None, kind: str | None = None,
               ignore: Iterable[str] = ()) -> Callable[[Callable[..., Any]], Memoized]: ...

    def cached(self, fn: Callable[..., Any] | None = None, *, ttl: float | None = None,
               kind: str | None = None,
               ignore: Iterable[str] = ()) -> Memoized | Callable[[Callable[..., Any]], Memoized]:
        """Memoise a function in the kit's cache; with or without parentheses."""
        from .cache.memoize import memoize

        return memoize(self.cache, fn, ttl=ttl, kind=kind, ignore=ignore,
                       scope=self.pool.scope)

    def report(self, title: str | None = None, *, redact: bool = False) -> Report:
        """A performance report of everything recorded so far (displays inline); add a
        runbook's own results with ``.add_section(title, frame_or_figure_or_text)``.
        ``redact=True`` masks account ids, ARNs and access key ids in every output."""
        from .aws.errors import suggest_for_code
        from .observe.report import Report

        return Report.build(
            title=title or f"geuse_nb · {self.name}",
            recorder=self.metrics,
            cache_stats=self.cache.stats(),
            pool_stats=self.pool.stats(),
            settings=self.settings,
            suggest=suggest_for_code,
            redact=redact,
        )

    def export_cloudwatch(self, namespace: str | None = None) -> dict[str, Any]:
        """Send everything recorded to CloudWatch (PutMetricData) through the kit's pooled
        client in its default region; ``namespace`` defaults to ``metrics_namespace``.
        Returns ``{"namespace", "requests", "datums", "metrics"}``. EMF lines instead:
        ``kit.metrics.to_emf()``."""
        self._check_open()
        return self._export_cloudwatch(namespace)

    def _export_cloudwatch(self, namespace: str | None = None) -> dict[str, Any]:
        from .aws.cloudwatch import export_cloudwatch

        client = self.pool.client("cloudwatch")  # not self.client: close() exports too
        return export_cloudwatch(self.metrics, client, namespace=namespace)

    # ------------------------------------------------------------ lifecycle
    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        """A closed kit says so, instead of failing later at a stopped sandbox's endpoint."""
        if self._closed:
            raise UsageError(f"this kit ({self.name!r}) is closed; a later gn.init() or "
                             "kit.close() closed it",
                             suggestion="use the kit the last gn.init() returned "
                                        "(or gn.get_kit())")

    def close(self) -> None:
        """Stop the sampler, drop clients, close the cache and an owned sandbox. Idempotent."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        atexit.unregister(self.close)
        if self.settings.metrics_cloudwatch_export:
            try:
                self._export_cloudwatch()  # the kit is marked closed already
            except Exception:  # an export failure must not stop the kit from closing
                log.warning("CloudWatch export at close failed", exc_info=True)
        from .aws.assumed import close_account_pools

        def closer(part: str) -> Callable[[], object] | None:
            return getattr(getattr(self, part, None), "close", None)

        closers = {part: closer(part) for part in ("_engine", "_sampler")}
        if getattr(self, "pool", None) is not None:  # kit.client(account=)'s own sessions
            closers["account pools"] = lambda: close_account_pools(self.pool)
        closers.update({part: closer(part) for part in ("pool", "cache")})
        for part, close in closers.items():
            if close is not None:
                try:
                    close()
                except Exception:  # close must finish whatever one part does
                    log.warning("closing %s failed", part, exc_info=True)
        if self.sandbox is not None and self._owns_sandbox:
            self.sandbox.stop()

    def __enter__(self) -> Kit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else self.backend.kind
        return f"<geuse_nb.Kit {self.name!r} {state}>"

    def __reduce__(self) -> tuple[Any, ...]:
        """A Kit travels as its name, settings and backend description (no credentials,
        no clients). In the receiving process (a joblib or Dask worker) every copy of the
        same description is one Kit, joined to the same sandbox, built on first use."""
        return (_restore_kit, (self.name, self.settings, self.backend))

    def _description(self) -> str:
        return repr((self.name, self.settings, self.backend))


def _restore_kit(name: str, settings: Settings, backend: Backend) -> Kit:
    def build() -> Kit:
        # Pin the backend the sender had: "auto" must not choose again in a worker that
        # happens to lack credentials, and a sandbox kit joins the sender's sandbox.
        pinned: dict[str, Any] = {"backend": backend.kind}
        if backend.kind == "sandbox":
            pinned["sandbox_url"] = backend.sandbox_url
        kit = Kit(name, settings=settings.replace(**pinned))
        kit.metrics.ship_home()  # a worker's rows go home with its jobs' results
        return kit

    return shared.instance("kit", repr((name, settings, backend)), build)


# ---------------------------------------------------------------- default kit
_default: Kit | None = None
_default_lock = threading.Lock()


def _expected_codes(expect: object) -> frozenset[str]:
    """``Kit.call(expect=...)`` as a set of error codes; ``UsageError`` before any request."""
    if isinstance(expect, str):
        expect = (expect,)
    codes: frozenset[object] = (frozenset(expect) if isinstance(expect, Iterable)
                                else frozenset({expect}))
    if not all(isinstance(c, str) and c for c in codes):
        raise UsageError(f"expect={expect!r} is not a list of AWS error codes",
                         suggestion="pass the codes the call expects, e.g. "
                                    "expect=('ValidationError',) or expect='NoSuchEntity'")
    return frozenset(str(c) for c in codes)


def init(name: str = "geuse", *, backend: str | None = None, **settings: Any) -> Kit:
    """Create a Kit and make it the default (closing the previous default)."""
    global _default
    kit = Kit(name, backend=backend, **settings)
    with _default_lock:
        previous, _default = _default, kit
    if previous is not None:
        previous.close()
    return kit


def get_kit() -> Kit:
    """The default Kit, created with default settings on first use."""
    global _default
    with _default_lock:
        if _default is None or _default.closed:
            _default = Kit()
        return _default
