"""Accounts as a dimension of every call: what ``account=`` / ``accounts=`` mean.

A call with ``account="111111111111"`` runs as ``arn:aws:iam::111111111111:role/<role_name>``
(``role_name`` defaults to the setting, ``OrganizationAccountAccessRole``, the role AWS
Organizations creates in every member account); ``assumed.py`` holds the role (one
AssumeRole per account and process) and signs the calls with it.

This module checks the input before anything is sent (12-digit ids, a non-empty list, a
role name), reads the organization (``ListAccounts`` through the call path: paginated and
cached; ``accounts="all"`` = its ACTIVE accounts; an organization that cannot be read is a
``UsageError`` saying to pass the ids), turns a fan-out's ``accounts=`` into role targets
(forgetting refusals remembered by an earlier run, so a fixed trust policy is seen the next
time), and folds the jobs of an account whose role was refused into one failure row:
measured on the sandbox, a denied account among 5 × 4 regions × 2 operations is one row
and one AssumeRole request, where a per-job error would be 8 rows (``tests/test_accounts.py``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..errors import AwsCallError, UsageError
from .assumed import AssumeRoleFailed, RoleTarget, account_calls, account_pool

if TYPE_CHECKING:
    import pandas as pd

    from ..config import Settings
    from .calls import CallPath

__all__ = ["AssumeRoleFailed", "RoleTarget", "account_calls", "calls_as", "check_accounts",
           "fold_refused", "organization_accounts", "resolve_targets", "role_target"]

log = logging.getLogger(__name__)

ACCOUNT_ID = re.compile(r"\d{12}")
ROLE_NAME = re.compile(r"[\w+=,.@/-]{1,512}")
ACCOUNT_COLUMNS = ("account_id", "name", "email", "status")


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


def calls_as(calls: CallPath, target: RoleTarget | None) -> CallPath:
    """``calls`` in ``target``'s account for one call of the user's (``kit.call``,
    ``records``, ``client``): a refusal remembered from an earlier call is forgotten, so
    this one tries the role again, once, as each fan-out does (a fixed trust policy
    works at the next call, not only in a new process)."""
    if target is not None:
        account_pool(calls.pool, target).retry_refused()
    return account_calls(calls, target)


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
