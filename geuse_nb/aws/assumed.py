"""One assumed role per (account, role, external id) and process, and calls signed with it.

- **Credentials**: botocore's ``AssumeRoleCredentialFetcher`` behind
  ``RefreshableCredentials``: botocore refreshes them 15 minutes before they expire, under
  its own lock. The first AssumeRole is sent here, under the pool's lock (not lazily inside
  a request's signing), so one account's concurrent jobs wait for one request, and a
  refusal is ``AssumeRoleFailed`` (naming role and account, with a suggestion), remembered
  so the account's other jobs fail without a request. The fetcher's STS client is the
  kit's own pooled one (its credentials are the source credentials).
- **The call path signs with them on the kit's own pooled clients**: a ``before-sign``
  handler puts the account's credentials in the request's signing context
  (``request_credentials``, botocore's per-request credentials) while
  ``AccountPool.renewing`` runs the attempt on that thread. SigV4 is per request; a
  connection is not tied to credentials. Measured at RTT 60 ms, 16 accounts × 4 regions ×
  2 operations: with a client per (account, region) each cost ~20 ms of CPU to create
  (botocore builds 692 ec2 methods per client) and its own connections (139 TCP
  connections, each a handshake, against 40), and the fan-out took 3.4× the same 128
  calls in one account; on shared clients it is ``geuse-nb bench accounts``'s figure.
  ``kit.client(…, account=…)`` hands the user a client of the role's own session
  (``boto3_client``): it is called outside the kit, so it must carry its credentials.
- **Recorded under the account**: the handler tags the request's context with the
  account, which the recorder hook writes into ``api_calls`` (AssumeRole included).
- **Cache scope: account and role, never credentials** (``AccountPool.scope``).
- **Pickles as a description** (settings, backend, target): on a Dask worker every task
  naming the same account resolves to the one pool of that process, so each worker
  assumes each role at most once.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import AwsCallError
from ._lighter import lighten_session
from .instrument import ACCOUNT_KEY
from .pool import ClientPool

if TYPE_CHECKING:
    from ..config import Settings
    from .backend import Backend
    from .calls import CallPath

log = logging.getLogger(__name__)
T = TypeVar("T")

SESSION_NAME = "geuse_nb"
REFUSED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "InvalidClientTokenId",
                           "NoSuchEntity", "ValidationError"})
_ACTING = threading.local()  # .as_ = (credentials or None, account) while a call runs


@dataclasses.dataclass(frozen=True)
class RoleTarget:
    """Where a call runs: an account, the role assumed in it, and the external id if any."""

    account: str
    role_name: str
    external_id: str | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.role_name}"


class AssumeRoleFailed(AwsCallError):
    """The role of an account could not be assumed (the account's jobs fail with this)."""

    def __init__(self, target: RoleTarget, code: str | None, message: str) -> None:
        self.target = target
        self.account = target.account
        super().__init__(
            f"cannot assume {target.arn}: {message}", service="sts", operation="assume_role",
            region=None, error_code=code,
            suggestion=(f"check that role {target.role_name!r} exists in account "
                        f"{target.account} and that its trust policy lets this identity assume "
                        "it" + (" with this external_id" if target.external_id else "")
                        + "; or pass role_name= (and external_id=) for that account, or leave "
                        "the account out"))


def _sign_as(request: Any, **_: Any) -> None:
    """``before-sign``: the acting account's credentials and name into the request."""
    acting = getattr(_ACTING, "as_", None)
    if acting is None:
        return
    credentials, account = acting
    if credentials is not None:
        request.context.setdefault("signing", {})["request_credentials"] = credentials
    request.context[ACCOUNT_KEY] = account


_PREPARED: weakref.WeakSet[Any] = weakref.WeakSet()


def _prepared(client: Any) -> Any:
    if client not in _PREPARED:
        client.meta.events.register("before-sign", _sign_as, unique_id="geuse_nb.sign_as")
        _PREPARED.add(client)
    return client


class AccountPool(ClientPool):
    """One (account, role, external id): its refreshable credentials, the kit's pooled
    clients to sign with them, and (for ``kit.client``) a session of its own."""

    def __init__(self, base: ClientPool, target: RoleTarget) -> None:
        super().__init__(base.settings, base.backend, recorder=base.recorder)
        self.base = base
        self.target = target
        self.account = target.account
        self._credentials: Any = None
        self._lock = threading.Lock()
        self._refused: tuple[str | None, str] | None = None
        self._assumed = 0  # AssumeRole requests this process sent for it (tests, bench)

    # what does not depend on the identity is asked of the base pool
    def available_services(self) -> frozenset[str]:
        return self.base.available_services()

    def known_regions(self, service: str | None = None) -> frozenset[str]:
        return self.base.known_regions(service)

    def paginator_config(self, service: str, api_operation: str) -> dict[str, Any] | None:
        return self.base.paginator_config(service, api_operation)

    def scope(self) -> str:
        return f"{self.base.scope()}|account:{self.target.account}|role:{self.target.role_name}"

    def retry_refused(self) -> None:
        """Forget a refusal: the next request tries AssumeRole again."""
        self._refused = None

    # ------------------------------------------------------------ the call path
    def client(self, service: str, region: str | None = None) -> Any:
        """The kit's pooled client for (service, region), made to sign as this account
        inside ``renewing`` (the call path's attempts run there)."""
        return _prepared(self.base.client(service, region))

    def renewing(self, attempt: Callable[[], T]) -> T:
        credentials = self.credentials()
        before = getattr(_ACTING, "as_", None)
        _ACTING.as_ = (credentials, self.account)
        try:
            return self.base.renewing(attempt)
        finally:
            _ACTING.as_ = before

    def boto3_client(self, service: str, region: str | None = None) -> Any:
        """A pooled client of the role's own session (carries its credentials anywhere)."""
        return super().client(service, region)

    # ------------------------------------------------------------ credentials
    def credentials(self) -> Any:
        """The role's refreshable credentials; the first call sends the AssumeRole."""
        found = self._credentials
        if found is not None:
            return found
        with self._lock:
            if self._credentials is None:
                from botocore.credentials import (
                    AssumeRoleCredentialFetcher,
                    RefreshableCredentials,
                )

                base = self.base
                st = base._state
                with st.lock:
                    source = base._session(st).get_credentials()
                args: dict[str, Any] = {"RoleSessionName": SESSION_NAME}
                if self.target.external_id:
                    args["ExternalId"] = self.target.external_id
                fetcher = AssumeRoleCredentialFetcher(
                    client_creator=self._sts_client, source_credentials=source,
                    role_arn=self.target.arn, extra_args=args)
                self._credentials = RefreshableCredentials.create_from_metadata(
                    self._fetch(fetcher), refresh_using=lambda: self._fetch(fetcher),
                    method="assume-role")
            return self._credentials

    def _sts_client(self, service: str, **_credentials: Any) -> Any:
        """The kit's pooled STS client: its credentials are the fetcher's source ones."""
        return _prepared(self.base.client(service, self.base.backend.default_region))

    def _fetch(self, fetcher: Any) -> dict[str, Any]:
        import botocore.exceptions

        refused = self._refused
        if refused is not None:
            raise AssumeRoleFailed(self.target, *refused)
        before = getattr(_ACTING, "as_", None)
        _ACTING.as_ = (None, self.account)  # recorded under this account, signed as the kit
        try:
            self._assumed += 1  # under the pool's lock, or botocore's refresh lock
            metadata: dict[str, Any] = self.base.renewing(fetcher.fetch_credentials)
            return metadata
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = error.get("Code"), error.get("Message") or str(exc)
            if code in REFUSED_CODES:
                self._refused = (code, message)
                log.warning("cannot assume %s: %s", self.target.arn, message)
            raise AssumeRoleFailed(self.target, code, message) from None
        finally:
            _ACTING.as_ = before

    def _session(self, st: Any) -> Any:
        """The role's own boto3 Session, for ``boto3_client`` (call with ``st.lock`` held)."""
        if st.session is None:
            import boto3
            import botocore.session
            from botocore.credentials import CredentialProvider, CredentialResolver

            credentials = self.credentials()

            class _Assumed(CredentialProvider):
                METHOD = "assume-role"

                def load(self) -> Any:
                    return credentials

            base = self.base
            with base._state.lock:
                base._session(base._state)
                loader = base._state.botocore_session.get_component("data_loader")
            core = botocore.session.Session()
            core.register_component("credential_provider", CredentialResolver([_Assumed()]))
            core.register_component("data_loader", loader)  # parsed models shared, not re-read
            lighten_session(core)  # as the kit's own session has it (N)
            st.botocore_session = core
            st.session = boto3.Session(botocore_session=core,
                                       region_name=self.backend.default_region)
        return st.session

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore_account_pool, (self.settings, self.backend, self.target))

    def __repr__(self) -> str:
        return f"<geuse_nb.AccountPool {self.target.arn} clients={len(self)}>"


def _restore_account_pool(settings: Settings, backend: Backend,
                          target: RoleTarget) -> AccountPool:
    from .pool import _restore_pool

    return account_pool(_restore_pool(settings, backend), target)


_POOLS: weakref.WeakKeyDictionary[ClientPool, dict[RoleTarget, AccountPool]] = (
    weakref.WeakKeyDictionary())
_VIEWS: weakref.WeakKeyDictionary[Any, dict[RoleTarget, Any]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def account_pool(base: ClientPool, target: RoleTarget) -> AccountPool:
    """The one pool of ``target`` behind ``base`` in this process."""
    with _LOCK:
        pools = _POOLS.setdefault(base, {})
        pool = pools.get(target)
        if pool is None:
            pool = pools[target] = AccountPool(base, target)
        return pool


def close_account_pools(base: ClientPool) -> int:
    """Close the clients of every account pool behind ``base`` (``kit.client(account=)``'s
    own sessions; the call path's clients are ``base``'s). The pools stay usable, as
    ``ClientPool.close`` leaves them. Returns how many pools there were."""
    with _LOCK:
        pools = list(_POOLS.get(base, {}).values())
    for pool in pools:
        pool.close()
    return len(pools)


def assume_role_requests() -> dict[str, int]:
    """AssumeRole requests this process sent, per account (what a Dask test counts on
    each worker with ``client.run``)."""
    with _LOCK:
        pools = [p for by_target in _POOLS.values() for p in by_target.values()]
    out: dict[str, int] = {}
    for pool in pools:
        out[pool.account or ""] = out.get(pool.account or "", 0) + pool._assumed
    return out


def account_calls(calls: CallPath, target: RoleTarget | None) -> CallPath:
    """``calls`` running in ``target``'s account: the same cache, recorder and validation,
    the account's pool. ``None`` → ``calls`` itself."""
    if target is None:
        return calls
    with _LOCK:
        views = _VIEWS.setdefault(calls, {})
        view = views.get(target)
    if view is None:
        pool = account_pool(calls.pool, target)
        view = object.__new__(type(calls))
        view.__dict__.update(calls.__dict__)  # shares what validation learned
        view.pool = pool
        with _LOCK:
            view = views.setdefault(target, view)
    found: CallPath = view
    return found
