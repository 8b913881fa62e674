"""Where AWS calls go: the embedded sandbox or real AWS.

A ``Backend`` is a small picklable description (no credentials, no clients): it
travels into joblib and Dask workers, where the pool rebuilds its clients.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ..errors import unknown_region

log = logging.getLogger(__name__)

# The sandbox needs some credentials to sign with; they are not secrets, and they
# are derived here rather than stored, so nothing credential-like is pickled.
SANDBOX_ACCESS_KEY_PREFIX = "AKIAGEUSESANDBOX"


@dataclasses.dataclass(frozen=True)
class Backend:
    """A picklable description of the AWS a kit talks to."""

    kind: str  # "sandbox" or "aws"
    default_region: str = "us-east-1"
    profile: str | None = None
    sandbox_url: str | None = None
    endpoints: Mapping[str, str] = dataclasses.field(
        default_factory=lambda: MappingProxyType({})
    )

    def __post_init__(self) -> None:
        # Read-only and one canonical form, so equal backends have equal reprs.
        object.__setattr__(self, "endpoints", MappingProxyType(dict(self.endpoints)))

    def endpoint_url(self, region: str) -> str | None:
        """The sandbox endpoint of ``region``; None on real AWS (botocore resolves it).

        A region the sandbox does not serve is an error, never a fall-through to AWS's
        own endpoint: a sandbox kit must not send a request outside this machine.
        """
        if self.kind != "sandbox":
            return None
        try:
            return self.endpoints[region]
        except KeyError:
            raise unknown_region(region, self.endpoints, by=f"the sandbox at {self.sandbox_url}",
                                 listed_at="kit.sandbox.regions") from None

    @functools.cached_property
    def identity(self) -> str:
        """A label that scopes caches and pools: never derived from secrets (built once: the
        pool and the key of every call read it)."""
        if self.kind == "sandbox":
            return f"sandbox:{self.sandbox_url}:{self.profile or 'default'}"
        return f"aws:{self.profile or 'default'}"

    def session_kwargs(self) -> dict[str, Any]:
        """Arguments for ``boto3.Session`` in this backend."""
        if self.kind == "sandbox":
            label = (self.profile or "default").upper().encode().hex()[:4].upper()
            return {
                "aws_access_key_id": f"{SANDBOX_ACCESS_KEY_PREFIX}{label:0<4}",
                "aws_secret_access_key": "sandbox-secret-not-a-credential",
                "region_name": self.default_region,
            }
        kwargs: dict[str, Any] = {"region_name": self.default_region}
        if self.profile:
            kwargs["profile_name"] = self.profile
        return kwargs

    def __getstate__(self) -> dict[str, Any]:
        state = {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self)
        }
        state["endpoints"] = dict(self.endpoints)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        state["endpoints"] = MappingProxyType(dict(state["endpoints"]))
        for key, value in state.items():
            object.__setattr__(self, key, value)


def aws_region(profile: str | None) -> str:
    """The region boto3 would use for ``profile`` (AWS_DEFAULT_REGION, the profile's
    config), us-east-1 when none is set."""
    import boto3
    import botocore.exceptions

    try:
        session = boto3.Session(profile_name=profile) if profile else boto3.Session()
    except botocore.exceptions.BotoCoreError:
        return "us-east-1"
    return session.region_name or "us-east-1"


def aws_credentials_available(profile: str | None) -> bool:
    """True when boto3's default chain finds credentials (no network call)."""
    import boto3
    import botocore.exceptions

    try:
        session = boto3.Session(profile_name=profile) if profile else boto3.Session()
        return session.get_credentials() is not None
    except botocore.exceptions.BotoCoreError:
        return False
