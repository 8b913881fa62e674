"""botocore failures → ``AwsCallError`` with a one-line suggestion, and one retry rule.

``is_retryable`` is the single answer to "is trying again worth it?", shared by the
call path (stale-if-error), the parallel engine (job retries, passed in by the Kit) and
the CloudWatch export, so they never disagree. ``is_expired`` is the single answer to
"would re-reading the credentials fix this?" (``ClientPool.renewing`` acts on it). The
code lists mirror botocore's standard retry mode (``botocore/retries/standard.py``).
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import AwsCallError
from ..kinds import api_name

THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException",
    "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
    "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
    "EC2ThrottledException",
})
TRANSIENT_CODES = frozenset({
    "RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete",
    "InternalError", "InternalFailure", "InternalServerError", "ServiceUnavailable",
    "ServiceUnavailableException", "Unavailable",
})
TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
EXPIRED_CODES = frozenset({
    "ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired",
    "InvalidClientTokenId.Expired",
})
DENIED_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess",
    "NotAuthorized",
})
REGION_CODES = frozenset({"OptInRequired", "AuthFailure", "InvalidClientTokenId"})
# A launch refused because that pool (a type in an AZ, or its subnet) is short right now: another
# pool may succeed (ops.spot.launch fails over on these; "Unsupported" only for a type/AZ pair).
CAPACITY_CODES = frozenset({
    "InsufficientInstanceCapacity", "InsufficientCapacity", "MaxSpotInstanceCountExceeded",
    "SpotMaxPriceTooLow", "InsufficientFreeAddressesInSubnet",
})
IMAGE_CODES = frozenset({"InvalidAMIID.NotFound", "InvalidAMIID.Malformed",
                         "InvalidAMIID.Unavailable"})


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of ``exc`` (``ClientError``), else the botocore exception name."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    if isinstance(exc, AwsCallError):
        return exc.error_code
    module = type(exc).__module__ or ""
    if module.startswith(("botocore", "urllib3")):
        return type(exc).__name__
    return None


def _http_status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(status) if status else None
    return None


def _is_connection_failure(exc: BaseException) -> bool:
    import botocore.exceptions as bx

    return isinstance(exc, (bx.ConnectionError, bx.HTTPClientError, ConnectionError,
                            TimeoutError))


def is_expired(exc: BaseException) -> bool:
    """True when the credentials have expired: a session rebuilt from the credential
    chain (``ClientPool.refresh``) may succeed where this attempt failed."""
    return error_code(exc) in EXPIRED_CODES


def is_retryable(exc: BaseException) -> bool:
    """True for throttling, transient server errors, timeouts and dropped connections.

    False for everything a retry cannot fix: bad input, access denied, expired
    credentials, unknown resources, and programming errors.
    """
    if isinstance(exc, AwsCallError):
        return exc.retryable
    code = error_code(exc)
    if code in THROTTLING_CODES or code in TRANSIENT_CODES:
        return True
    if _http_status(exc) in TRANSIENT_STATUS:
        return True
    return _is_connection_failure(exc)


def suggestion_for(exc: BaseException) -> str | None:
    """What to do about a failed job's error (the engine's ``suggest`` policy): the error's
    own suggestion (every ``AwsCallError`` carries one), else what its AWS error code says
    when that needs no service or region (throttling, expired credentials, transient
    server errors); ``None`` when there is nothing specific to say."""
    own = getattr(exc, "suggestion", None)
    if own:
        return str(own)
    code = error_code(exc)
    if code in THROTTLING_CODES or code in EXPIRED_CODES or code in TRANSIENT_CODES:
        return suggest_for_code(code, "", "", None) or None
    return None


def _action(operation: str) -> str:
    """The IAM action name of an operation: an API spelling as given (``DescribeDBInstances``
    keeps its acronym), any other spelling through ``kinds.api_name``."""
    return operation if operation[:1].isupper() else api_name(operation)


def suggest_for_code(code: str | None, service: str, operation: str, region: str | None,
                     message: str = "") -> str:
    """The one-line suggestion for an AWS error code ("" when the code says nothing
    specific); used for raised errors and for the error tables of reports."""
    api = _action(operation)
    message = message.lower()
    if code in EXPIRED_CODES:
        return ("credentials have expired: refresh them (e.g. `aws sso login`), "
                "then kit.pool.validate() rebuilds the clients")
    if code in DENIED_CODES:
        return (f"the identity is not allowed {service}:{api}: add that action to its IAM "
                "policy or use a role that has it")
    if code in THROTTLING_CODES:
        return ("AWS is throttling these calls: lower n_jobs, or configure "
                "pool_retry_mode='adaptive' so botocore paces requests")
    if code in REGION_CODES:
        return (f"region {region!r} is not enabled for this account (opt-in region) or the "
                "credentials are not valid there: enable the region or choose another")
    if code == "InvalidInstanceType" or (
        code in ("InvalidParameterValue", "InvalidParameterCombination", "Unsupported")
        and "instance type" in message.replace("instancetype", "instance type")
    ):
        return (f"check the instance type name exists in {region}: "
                "ec2.describe_instance_type_offerings lists the types offered there")
    if code in CAPACITY_CODES:
        return ("that pool has no spot capacity (or price headroom) now: try another AZ, type "
                "or region, as spot.launch does along spot.recommend's failover list")
    if code in IMAGE_CODES:
        return (f"the image does not exist in {region}: AMI ids are per region; pass "
                "image_id=None for the region's Amazon Linux 2023 (SSM public parameter) "
                "or copy the image there with ec2.copy_image")
    if code in TRANSIENT_CODES:
        return "a transient AWS server error: retrying usually succeeds"
    if code == "InsufficientCapabilitiesException":
        needed = re.findall(r"capability_[a-z_]+", message) or ["capability_iam"]
        said = ", ".join(f"'{c.upper()}'" for c in needed)
        return (f"the template needs {said}: pass capabilities=[{said}] to rollout.run "
                f"(or None to detect them), or Capabilities=[{said}] to {api}")
    return ""


def _suggest(exc: BaseException, code: str | None, service: str, operation: str,
             region: str | None) -> str:
    import botocore.exceptions as bx

    api = getattr(exc, "operation_name", None) or _action(operation)
    if isinstance(exc, (bx.TokenRetrievalError, bx.UnauthorizedSSOTokenError,
                        bx.SSOTokenLoadError)):
        code = "ExpiredToken"
    said = suggest_for_code(code, service, api, region, str(exc))
    if said:
        return said
    if isinstance(exc, bx.NoCredentialsError):
        return ("no AWS credentials found: run `aws configure` or `aws sso login`, "
                "or use backend='sandbox'")
    if isinstance(exc, bx.NoRegionError):
        return "pass region=... or set AWS_DEFAULT_REGION"
    if _is_connection_failure(exc):
        return (f"the {service} endpoint in {region!r} is not reachable: check the region name "
                "and the network, or that the sandbox is running")
    if _http_status(exc) in TRANSIENT_STATUS:
        return "a transient AWS server error: retrying usually succeeds"
    return f"see the {code or type(exc).__name__} error of {service}:{api} in the AWS docs"


def to_aws_error(exc: BaseException, service: str, operation: str,
                 region: str | None) -> AwsCallError:
    """Wrap a botocore (or connection) failure into an ``AwsCallError`` with a suggestion."""
    if isinstance(exc, AwsCallError):
        return exc
    code = error_code(exc)
    response: Any = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error", {}).get("Message"):
        message = str(response["Error"]["Message"])
    else:
        message = str(exc) or type(exc).__name__
    return AwsCallError(
        message,
        service=service,
        operation=operation,
        region=region,
        error_code=code,
        suggestion=_suggest(exc, code, service, operation, region),
        retryable=is_retryable(exc),
    )
