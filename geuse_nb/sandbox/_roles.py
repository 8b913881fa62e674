"""Accounts in the sandbox: an organization with member accounts, and roles it refuses.

moto assumes any role (it does not read trust policies), and scopes what a role's
credentials see by the role's account. So ``create_accounts`` only has to make them
known to Organizations (``CreateOrganization`` if needed, ``CreateAccount`` each; plain
boto3 against the home region's port, as any client would), and ``RoleGate`` refuses
AssumeRole into the accounts ``deny_assume_role`` named, with the 403 ``AccessDenied``
AWS sends when a role's trust policy does not allow the caller. The refusal is answered
before moto (and counted, as AWS counts it): it needs no region, only the role ARN of the
request's body.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any

from .awserror import RequestInfo, error_response

_ROLE_ACCOUNT = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):role/")
CALLER = "arn:aws:iam::123456789012:user/sandbox"  # moto's default identity


def account_ids(ids: Iterable[object]) -> list[str]:
    """Checked 12-digit account ids (``ValueError`` otherwise, a 400 on the control plane)."""
    out = []
    for value in [ids] if isinstance(ids, str) else ids:
        text = str(value)
        if not re.fullmatch(r"\d{12}", text):
            raise ValueError(f"{value!r} is not a 12-digit account id")
        out.append(text)
    return out


class RoleGate:
    """The accounts whose roles the sandbox refuses to let anyone assume."""

    def __init__(self) -> None:
        self._denied: set[str] = set()
        self._lock = threading.Lock()

    def route(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if method == "POST":
                self._denied.update(account_ids(payload.get("deny") or []))
                self._denied.difference_update(account_ids(payload.get("allow") or []))
            return {"denied": sorted(self._denied)}

    def refuse(self, info: RequestInfo) -> tuple[str, list[tuple[str, str]], bytes] | None:
        """AWS's AccessDenied for an AssumeRole into a denied account, else None."""
        if info.service != "sts" or info.operation != "AssumeRole" or not self._denied:
            return None
        arn = info.param("RoleArn") or ""
        match = _ROLE_ACCOUNT.match(arn)
        if match is None or match.group(1) not in self._denied:
            return None
        return error_response(info, 403, "AccessDenied",
                              f"User: {CALLER} is not authorized to perform: sts:AssumeRole "
                              f"on resource: {arn}")


def create_accounts(endpoint_url: str, region: str, names: Iterable[str]) -> list[dict[str, str]]:
    """Create the organization if there is none, then one member account per name (an
    existing account of that name is returned as it is) → [{account_id, name}]."""
    import boto3

    names = [names] if isinstance(names, str) else list(names)
    if not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise ValueError(f"names={names!r}: pass a list of non-empty account names")
    org = boto3.client("organizations", region_name=region, endpoint_url=endpoint_url,
                       aws_access_key_id="sandbox", aws_secret_access_key="sandbox")
    try:
        org.describe_organization()
    except org.exceptions.AWSOrganizationsNotInUseException:
        org.create_organization(FeatureSet="ALL")
    have = {a["Name"]: a["Id"] for page in org.get_paginator("list_accounts").paginate()
            for a in page["Accounts"]}
    out = []
    for name in dict.fromkeys(n.strip() for n in names):
        if name not in have:
            status = org.create_account(Email=f"{name.lower().replace(' ', '-')}@example.com",
                                        AccountName=name)["CreateAccountStatus"]
            have[name] = status["AccountId"]
        out.append({"account_id": have[name], "name": name})
    return out
