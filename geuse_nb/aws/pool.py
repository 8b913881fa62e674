"""Pooled boto3 clients: one per (service, region, identity, endpoint), made once, reused.

Why: a new ``Session`` + client costs ~150 ms and a new TCP connection per call; a
pooled client costs a dict lookup and keeps its connections alive.

- One boto3 Session per process; clients are created under a lock (sessions are
  not thread-safe), then used freely from any thread (clients are).
- botocore ``Config`` comes from Settings: connection cap, keep-alive, timeouts and
  botocore's own retry mode (no hand-written retry loop).
- Each urllib3 connection pool is *blocking*: ``pool_max_connections`` is a hard cap
  per endpoint, so extra threads wait for a free connection instead of opening one
  that is then thrown away ("Connection pool is full, discarding connection").
- Every client counts the TCP connections its urllib3 pools open (reconnects
  included) and, through botocore event hooks, records every HTTP attempt in the
  metrics recorder's ``api_calls`` table (``instrument.py``).
- Expired credentials: ``renewing(fn)`` runs ``fn`` and, when it fails with expired
  credentials (``errors.is_expired``), rebuilds the session once and runs it again; the
  call path and ``validate`` both go through it.
- Idle clients are dropped after ``pool_idle_timeout`` (0 = never), checked lazily.
- Fork/process safe: per-process state is rebuilt when ``os.getpid()`` changes, and
  the pool pickles as settings + backend only (no credentials, no clients).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import UsageError, did_you_mean, unknown_region
from ._lighter import lighten_session
from .errors import is_expired, to_aws_error
from .instrument import ClientStat, PooledClient, install_hooks, instrument_http

if TYPE_CHECKING:
    import pandas as pd

    from ..config import Settings
    from ..observe.metrics import Recorder
    from .backend import Backend

log = logging.getLogger(__name__)

STATS_COLUMNS = ("service", "region", "clients_created", "requests", "connections_opened",
                 "reuse_rate", "last_used")
T = TypeVar("T")


class _ProcessState:
    """Everything that must not cross a fork: the session, the clients, the lock."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.RLock()
        self.session: Any = None
        self.botocore_session: Any = None
        self.entries: dict[tuple[str, str, str, str | None], PooledClient] = {}
        self.stats: dict[tuple[str, str], ClientStat] = {}
        self.services: frozenset[str] | None = None
        self.regions: frozenset[str] | None = None
        self.scope: str | None = None
        self.next_sweep = 0.0


# ---------------------------------------------------------------- the pool
class ClientPool:
    """Thread-safe, fork-safe pool of boto3 clients for one backend."""

    account: str | None = None  # the account its calls run in, when not the identity's own

    def __init__(self, settings: Settings, backend: Backend, *,
                 recorder: Recorder | None = None) -> None:
        self.settings = settings
        self.backend = backend
        self.recorder = recorder
        self._st = _ProcessState()
        self._botocore_config: Any = None

    # ------------------------------------------------------------ per-process state
    @property
    def _state(self) -> _ProcessState:
        st = self._st
        if st.pid != os.getpid():  # forked: nothing of the parent's is safe to use
            st = self._st = _ProcessState()
        return st

    def _session(self, st: _ProcessState) -> Any:
        """The process's boto3 Session (call with ``st.lock`` held)."""
        if st.session is None:
            import boto3
            import botocore.exceptions
            import botocore.session

            st.botocore_session = botocore.session.get_session()
            lighten_session(st.botocore_session)  # exact fast timestamps and signing (N)
            try:
                st.session = boto3.Session(botocore_session=st.botocore_session,
                                           **self.backend.session_kwargs())
            except botocore.exceptions.ProfileNotFound as exc:
                raise UsageError(
                    f"AWS profile {self.backend.profile!r} not found",
                    suggestion="pick one of the profiles in ~/.aws/config or unset aws_profile",
                ) from exc
        return st.session

    def botocore_config(self) -> Any:
        """The ``botocore.config.Config`` the pool makes its clients with (retries, timeouts,
        connections). Give it to a plain client to compare like with like: a client's own
        ``meta.config`` is not the same, botocore stores the built user agent in it, which
        a client made with it then takes as supplied and never builds again (~30 µs per
        call less than a default client)."""
        if self._botocore_config is None:
            from botocore.config import Config

            s = self.settings
            self._botocore_config = Config(
                max_pool_connections=s.pool_max_connections,
                tcp_keepalive=s.pool_keep_alive,
                connect_timeout=s.pool_connection_timeout,
                read_timeout=s.pool_read_timeout,
                retries={"mode": s.pool_retry_mode,
                         "total_max_attempts": s.pool_max_attempts},
                user_agent_extra="geuse_nb",
            )
        return self._botocore_config

    # ------------------------------------------------------------ validation helpers
    def available_services(self) -> frozenset[str]:
        """Service names boto3 knows (cached per process)."""
        st = self._state
        if st.services is None:
            with st.lock:
                if st.services is None:
                    st.services = frozenset(self._session(st).get_available_services())
        return st.services

    def known_regions(self, service: str | None = None) -> frozenset[str]:
        """Regions this backend serves: the sandbox's, or botocore's endpoint data on AWS."""
        if self.backend.kind == "sandbox":
            return frozenset(self.backend.endpoints)
        st = self._state
        if service is None and st.regions is not None:
            return st.regions
        with st.lock:
            session = self._session(st)
            if st.regions is None:
                regions: set[str] = set()
                for partition in session.get_available_partitions():
                    regions.update(session.get_available_regions("ec2", partition))
                st.regions = frozenset(regions)
            if service is None:
                return st.regions
            extra: set[str] = set()
            for partition in session.get_available_partitions():
                extra.update(session.get_available_regions(service, partition,
                                                           allow_non_regional=True))
        return st.regions | extra

    def check_service(self, service: str) -> None:
        """Raise ``UsageError`` naming the closest services when ``service`` is unknown."""
        services = self.available_services()
        if not isinstance(service, str) or service not in services:
            raise UsageError(
                f"unknown AWS service {service!r}{did_you_mean(str(service), services)}",
                suggestion="use a boto3 service name such as 'ec2', 'cloudformation', 'sts'",
            )

    def check_region(self, region: str, service: str | None = None) -> None:
        """Raise ``UsageError`` (``errors.unknown_region``) when this backend does not
        serve ``region``: it names the closest regions and where the list is."""
        sandbox = self.backend.kind == "sandbox"
        if isinstance(region, str):  # fast paths: a known region costs a set lookup
            if sandbox and region in self.backend.endpoints:
                return
            if not sandbox and region in self.known_regions():
                return
        regions = self.known_regions(None if sandbox else service)
        if sandbox and not regions:
            raise UsageError("the sandbox backend lists no regions",
                             suggestion="start the sandbox before creating clients")
        if not isinstance(region, str) or (regions and region not in regions):
            if sandbox:
                raise unknown_region(region, regions,
                                     by=f"the sandbox at {self.backend.sandbox_url}",
                                     listed_at="kit.sandbox.regions")
            raise unknown_region(region, regions, by=f"AWS for {service or 'ec2'}",
                                 listed_at=f"kit.pool.known_regions({service!r})")

    def paginator_config(self, service: str, api_operation: str) -> dict[str, Any] | None:
        """botocore's paginator definition of an operation (tokens, result keys), or None."""
        import botocore.exceptions

        st = self._state
        with st.lock:
            self._session(st)
            try:
                model = st.botocore_session.get_paginator_model(service)
                return dict(model.get_paginator(api_operation))
            except (botocore.exceptions.UnknownServiceError,
                    botocore.exceptions.DataNotFoundError, ValueError):
                return None

    # ------------------------------------------------------------ clients
    def client(self, service: str, region: str | None = None) -> Any:
        """The pooled client for (service, region); region None → the backend's default."""
        region = region or self.backend.default_region
        endpoint = self.backend.endpoint_url(region)
        key = (service, region, self.backend.identity, endpoint)
        st = self._state
        now = time.monotonic()
        idle = self.settings.pool_idle_timeout
        if idle > 0 and now >= st.next_sweep:
            self._sweep(st, now, idle)
        entry = st.entries.get(key)
        if entry is None:
            return self._create(st, key).client
        entry.touched = now
        return entry.client

    def _create(self, st: _ProcessState,
                key: tuple[str, str, str, str | None]) -> PooledClient:
        service, region, _identity, endpoint = key
        self.check_service(service)
        self.check_region(region, service)
        with st.lock:
            entry = st.entries.get(key)
            if entry is not None:
                return entry
            stat = st.stats.get((service, region))
            if stat is None:
                stat = st.stats[(service, region)] = ClientStat(service, region)
            client = self._session(st).client(service, region_name=region,
                                              endpoint_url=endpoint, config=self.botocore_config())
            instrument_http(client, stat, wait=self.settings.pool_read_timeout)
            entry = PooledClient(client, stat)
            install_hooks(client, entry, self.recorder, account=self.account)
            stat.clients_created += 1
            st.entries[key] = entry
            log.debug("pooled client %s/%s created (endpoint %s)",
                      service, region, endpoint or "AWS")
            return entry

    def _sweep(self, st: _ProcessState, now: float, idle: float) -> None:
        """Drop clients idle for longer than ``idle`` seconds."""
        with st.lock:
            st.next_sweep = now + min(idle / 4, 30.0)
            stale = [k for k, e in st.entries.items() if now - e.touched > idle]
            dropped = [st.entries.pop(k) for k in stale]
        for entry in dropped:
            log.debug("dropping idle client %s/%s", entry.stat.service,
                      entry.stat.region)
            _close_client(entry.client)

    # ------------------------------------------------------------ credentials
    def refresh(self) -> None:
        """Rebuild the session and drop every client (credentials are re-read)."""
        st = self._state
        with st.lock:
            dropped = list(st.entries.values())
            st.entries.clear()
            st.session = None
            st.botocore_session = None
            st.services = None
            st.regions = None
            st.scope = None
        for entry in dropped:
            _close_client(entry.client)

    def renewing(self, attempt: Callable[[], T]) -> T:
        """``attempt()``; when it fails because the credentials expired, rebuild the session
        (``refresh``: credentials are re-read) and try once more. The one place that
        handles expired credentials: a second expiry, or any other failure, propagates."""
        try:
            return attempt()
        except Exception as exc:
            if not is_expired(exc):
                raise
            log.info("credentials expired; rebuilding the session once")
            self.refresh()
        return attempt()

    def validate(self) -> dict[str, str]:
        """Check who we are (STS GetCallerIdentity); rebuild once on expired credentials.

        Returns ``{"account", "arn", "user_id"}``; raises ``AwsCallError`` otherwise.
        """
        import botocore.exceptions

        region = self.backend.default_region
        try:
            ident = self.renewing(lambda: self.client("sts", region).get_caller_identity())
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise to_aws_error(exc, "sts", "get_caller_identity", region) from exc
        return {"account": ident.get("Account", ""), "arn": ident.get("Arn", ""),
                "user_id": ident.get("UserId", "")}

    def scope(self) -> str:
        """The identity label that scopes cache entries: the sandbox's URL and profile, or
        on AWS the account id (asked of STS once per process, again after ``refresh``) and
        profile, so switching credentials to another account never reads its entries."""
        if self.backend.kind == "sandbox":
            return self.backend.identity
        st = self._state
        if st.scope is None:
            account = self.validate()["account"]
            st.scope = f"aws:{account}:{self.backend.profile or 'default'}"
        return st.scope

    # ------------------------------------------------------------ reading
    def stats(self) -> pd.DataFrame:
        """One row per (service, region): clients_created, requests, connections_opened,
        reuse_rate (1 − connections/requests) and last_used."""
        import pandas as pd

        st = self._state
        with st.lock:
            stats = list(st.stats.values())
        rows = []
        for s in stats:
            with s.lock:
                requests, conns, used = s.requests, s.connections, s.last_used
            rows.append({
                "service": s.service, "region": s.region, "clients_created": s.clients_created,
                "requests": requests, "connections_opened": conns,
                "reuse_rate": max(0.0, 1.0 - conns / requests) if requests else float("nan"),
                "last_used": pd.Timestamp(used, unit="s", tz="UTC") if used else pd.NaT,
            })
        frame = pd.DataFrame.from_records(rows, columns=list(STATS_COLUMNS))
        return frame.sort_values(["service", "region"], ignore_index=True)

    def __len__(self) -> int:
        return len(self._state.entries)

    # ------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Close every client's connections; the pool stays usable (clients are remade)."""
        st = self._state
        with st.lock:
            dropped = list(st.entries.values())
            st.entries.clear()
        for entry in dropped:
            _close_client(entry.client)

    def __reduce__(self) -> tuple[Any, ...]:
        """Only settings and the backend description travel: no session, no credentials.
        In the receiving process every copy of the same description is one pool."""
        return (_restore_pool, (self.settings, self.backend))

    def __repr__(self) -> str:
        return f"<geuse_nb.ClientPool {self.backend.identity} clients={len(self)}>"


def _restore_pool(settings: Settings, backend: Backend) -> ClientPool:
    from .. import shared

    return shared.instance("pool", repr((settings, backend)),
                           lambda: ClientPool(settings, backend))


def _close_client(client: Any) -> None:
    try:
        client.close()
    except Exception:  # closing must not fail the caller
        log.debug("closing a client failed", exc_info=True)
