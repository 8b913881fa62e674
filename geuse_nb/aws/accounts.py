"""Calls in other accounts: one assumed role per (account, role, external id), reused.

A call with ``account="111111111111"`` runs as ``arn:aws:iam::111111111111:role/<role_name>``
(``role_name`` defaults to the setting, ``OrganizationAccountAccessRole``, the role AWS
Organizations creates in every member account).

- **One AssumeRole per account and process, not per call.** Each (account, role, external id)
  gets an ``AccountPool``: a ``ClientPool`` whose session holds botocore's refreshable
  assume-role credentials (``AssumeRoleCredentialFetcher`` feeding
  ``RefreshableCredentials``), so botocore refreshes them 15 minutes before they expire
  and every client of that account shares them. Clients are pooled per (account,
  service, region) like the kit's own. Measured on the sandbox, 8 accounts × 4 regions ×
  2 operations send exactly 8 AssumeRole requests (``tests/test_accounts.py``).
- **The first AssumeRole is sent by this module, not inside a request's signing**, under
  the account pool's lock: concurrent jobs of one account wait for it instead of each
  sending one, and a refusal is raised as ``AssumeRoleFailed`` (naming role and account,
  with a suggestion) and remembered, so the other jobs of that account fail at once
  without a request: one AssumeRole per account even when it is refused. A fan-out
  forgets refusals when it starts (``retry_refused``), so a fixed trust policy is seen
  on the next run.
- **Cache scope: account and role, never credentials** (``AccountPool.scope``): a refresh of
  the credentials keeps every cached answer; another role in the same account does not
  read them (it may see less).
- **Pickles as a description** (settings, backend, target): on a Dask worker every task
  naming the same account resolves to the one pool of that process (``shared.py``), so each
  worker assumes each role at most once.

``organization_accounts`` reads Organizations ``ListAccounts`` through the call path
(paginated, cached), which is what ``accounts="all"`` means: the ACTIVE ones.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..errors import AwsCallError, UsageError
from .pool import ClientPool

if TYPE_CHECKING:
    import pandas as pd

    from ..config import Settings
    from .backend import Backend
    from .calls import CallPath

log = logging.getLogger(__name__)

ACCOUNT_ID = re.compile(r"\d{12}")
ROLE_NAME = re.compile(r"[\w+=,.@/-]{1,512}")
SESSION_NAME = "geuse_nb"
REFUSED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "InvalidClientTokenId",
                           "NoSuchEntity", "ValidationError"})
ACCOUNT_COLUMNS = ("account_id", "name", "email", "status")


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


# ---------------------------------------------------------------- checking input
def check_account(account: object) -> str:
    """A 12-digit account id as a string; ``UsageError`` otherwise."""
    text = account if isinstance(account, str) else None
    if text is None or not ACCOUNT_ID.fullmatch(text):
        raise UsageError(f"account={account!r} is not a 12-digit AWS account id",
                         suggestion='pass it as a string of 12 digits, e.g. "111111111111" '
                                    "(kit.accounts() lists the organization's)")
    return text


def check_role_name(role_name: object) -> str:
    if not isinstance(role_name, str) or not ROLE_NAME.fullmatch(role_name.strip()):
        raise UsageError(f"role_name={role_name!r} is not a role name",
                         suggestion='pass the name of the role to assume in each account, e.g. '
                                    '"OrganizationAccountAccessRole" (the role_name setting)')
    return role_name.strip()


def role_target(account: object, settings: Settings, role_name: str | None = None,
                external_id: str | None = None) -> RoleTarget | None:
    """The checked target of a call's ``account=`` (None: the kit's own identity)."""
    if account is None:
        if role_name is not None or external_id is not None:
            raise UsageError("role_name/external_id were given without account=",
                             suggestion="pass account= (or accounts=) with them")
        return None
    role = check_role_name(settings.role_name if role_name is None else role_name)
    if external_id is not None and (not isinstance(external_id, str) or not external_id):
        raise UsageError(f"external_id={external_id!r} is not a non-empty string",
                         suggestion="pass the external id the role's trust policy requires, "
                                    "or leave it out")
    return RoleTarget(check_account(account), role, external_id)


def check_accounts(accounts: object) -> list[str] | str:
    """``"all"`` or a non-empty list of distinct 12-digit ids (checked before any request)."""
    if accounts == "all":
        return "all"
    if isinstance(accounts, str):
        accounts = [accounts]
    if not isinstance(accounts, Iterable):
        raise UsageError(f"accounts={accounts!r} is not valid",
                         suggestion='pass a list of 12-digit account ids, or "all"')
    ids = [check_account(a) for a in accounts]
    if not ids:
        raise UsageError("accounts=[] names no account",
                         suggestion='pass at least one 12-digit account id, "all" for the '
                                    "organization's active accounts, or leave accounts out")
    return list(dict.fromkeys(ids))


# ---------------------------------------------------------------- the organization
def organization_accounts(calls: CallPath, *, refresh: bool = False) -> pd.DataFrame:
    """The organization's accounts (account_id, name, email, status), from Organizations
    ``ListAccounts`` through the call path (paginated and cached)."""
    import pandas as pd

    try:
        answer = calls.call("organizations", "list_accounts", refresh=refresh)
    except AwsCallError as exc:
        raise UsageError(
            f"cannot list the organization's accounts ({exc.error_code or exc})",
            suggestion="pass the account ids yourself, accounts=[\"111111111111\", ...]: "
                       "listing them needs organizations:ListAccounts in the management "
                       "account (or a delegated administrator)") from exc
    rows = [{"account_id": a.get("Id"), "name": a.get("Name"), "email": a.get("Email"),
             "status": a.get("Status")} for a in answer.get("Accounts", [])]
    return pd.DataFrame.from_records(rows, columns=list(ACCOUNT_COLUMNS))


def resolve_accounts(accounts: object, calls: CallPath) -> list[str]:
    """Account ids of ``accounts=``: the list as given, or for ``"all"`` the ACTIVE ones."""
    checked = check_accounts(accounts)
    if checked != "all":
        return list(checked)
    frame = organization_accounts(calls)
    active = sorted(frame.loc[frame["status"] == "ACTIVE", "account_id"].astype(str))
    if not active:
        raise UsageError("accounts=\"all\": Organizations lists no active account",
                         suggestion="pass the account ids yourself, accounts=[\"111111111111\", "
                                    "...], or create the organization's accounts first")
    return active


def resolve_targets(accounts: object, calls: CallPath, role_name: str | None,
                    external_id: str | None) -> list[RoleTarget | None]:
    """The targets of a fan-out's ``accounts=`` (``[None]``: the kit's own identity); each
    one's remembered refusal is forgotten, so this run tries its role again, once."""
    if accounts is None:
        role_target(None, calls.settings, role_name, external_id)  # rejects a stray role
        return [None]
    role = role_target("0" * 12, calls.settings, role_name, external_id)  # checks the role
    assert role is not None
    targets: list[RoleTarget | None] = []
    for account in resolve_accounts(accounts, calls):
        target = RoleTarget(account, role.role_name, role.external_id)
        account_pool(calls.pool, target).retry_refused()
        targets.append(target)
    return targets


def fold_refused(failed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Failure rows with every job of an account whose role was refused folded into one row
    (operation ``sts.assume_role``, ``jobs`` = how many it stopped); ``refused`` dropped."""
    out: list[dict[str, Any]] = []
    folded: dict[str, dict[str, Any]] = {}
    for row in failed:
        target = row.pop("refused", None)
        if not isinstance(target, RoleTarget):
            out.append(row)
            continue
        first = folded.get(target.account)
        if first is not None:
            first["jobs"] += 1
            continue
        folded[target.account] = first = {
            "account": target.account, "role": target.arn, "operation": "sts.assume_role",
            "region": None, "params": {}, "error": row["error"],
            "suggestion": row["suggestion"], "jobs": 1}
        out.append(first)
    return out


# ---------------------------------------------------------------- one pool per account
class AccountPool(ClientPool):
    """The clients of one (account, role, external id): a ``ClientPool`` whose session
    holds the role's refreshable credentials, fetched from the base pool's identity."""

    def __init__(self, base: ClientPool, target: RoleTarget) -> None:
        super().__init__(base.settings, base.backend, recorder=base.recorder)
        self.base = base
        self.target = target
        self.account = target.account
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

    def _session(self, st: Any) -> Any:
        """The role's boto3 Session (call with ``st.lock`` held): the first AssumeRole is
        sent here, so a refusal is ``AssumeRoleFailed`` raised once, not a request each."""
        if st.session is None:
            import boto3
            import botocore.session
            from botocore.credentials import (
                AssumeRoleCredentialFetcher,
                CredentialProvider,
                CredentialResolver,
                RefreshableCredentials,
            )

            fetcher = AssumeRoleCredentialFetcher(
                client_creator=self._sts_client, source_credentials=self._source_credentials(),
                role_arn=self.target.arn, extra_args=self._extra_args())
            credentials = RefreshableCredentials.create_from_metadata(
                self._fetch(fetcher), refresh_using=lambda: self._fetch(fetcher),
                method="assume-role")

            class _Assumed(CredentialProvider):
                METHOD = "assume-role"

                def load(self) -> Any:
                    return credentials

            core = botocore.session.Session()
            core.register_component("credential_provider", CredentialResolver([_Assumed()]))
            # N: install_timestamp_parser(core) here
            _install_timestamp_parser(core)
            st.botocore_session = core
            st.session = boto3.Session(botocore_session=core,
                                       region_name=self.backend.default_region)
        return st.session

    def _extra_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"RoleSessionName": SESSION_NAME}
        if self.target.external_id:
            args["ExternalId"] = self.target.external_id
        return args

    def _source_credentials(self) -> Any:
        base = self.base
        st = base._state
        with st.lock:
            return base._session(st).get_credentials()

    def _sts_client(self, service: str, **credentials: Any) -> Any:
        """An STS client of the base identity's endpoint, instrumented so each AssumeRole
        is an ``api_calls`` row under this account."""
        from .instrument import ClientStat, PooledClient, install_hooks

        base = self.base
        region = base.backend.default_region
        st = base._state
        with st.lock:  # boto3 sessions are not thread-safe
            client = base._session(st).client(
                service, region_name=region, endpoint_url=base.backend.endpoint_url(region),
                config=base._config(), **credentials)
        install_hooks(client, PooledClient(client, ClientStat(service, region)),
                      self.recorder, account=self.target.account)
        return client

    def _fetch(self, fetcher: Any) -> dict[str, Any]:
        import botocore.exceptions

        refused = self._refused
        if refused is not None:
            raise AssumeRoleFailed(self.target, *refused)
        try:
            self._assumed += 1  # under the pool's lock, or botocore's refresh lock
            metadata: dict[str, Any] = fetcher.fetch_credentials()
            return metadata
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = error.get("Code"), error.get("Message") or str(exc)
            if code in REFUSED_CODES:
                self._refused = (code, message)
                log.warning("cannot assume %s: %s", self.target.arn, message)
            raise AssumeRoleFailed(self.target, code, message) from None

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore_account_pool, (self.settings, self.backend, self.target))

    def __repr__(self) -> str:
        return f"<geuse_nb.AccountPool {self.target.arn} clients={len(self)}>"


def _install_timestamp_parser(core: Any) -> None:
    """N's fast timestamp parser on this session, once it exists (the kit's own has it)."""
    try:
        from . import _timestamps  # type: ignore[attr-defined, unused-ignore]
    except ImportError:
        return
    _timestamps.install_timestamp_parser(core)


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


def account_pools(base: ClientPool) -> list[AccountPool]:
    """Every account pool made behind ``base`` in this process."""
    with _LOCK:
        return list(_POOLS.get(base, {}).values())


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
