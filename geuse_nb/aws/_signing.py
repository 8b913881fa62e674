"""A leaner SigV4 signer for the kit's clients, byte-equal to botocore's ``SigV4Auth``.

Signing was the largest piece of a bare boto3 call's own CPU after sending, receiving
and parsing: 140 of ~900 µs per call at RTT 0 (botocore's events timed around
``before-sign``; ``bench/README.md``, third round). Most of it is repeated work:
``SigV4Auth.add_auth`` builds the signed-header map twice (once for the canonical request,
once for the ``Authorization`` header), each time through ``email.message`` and a
``urlsplit`` of a URL that is the same for every call to an endpoint, and derives the
signing key with four HMACs that only change once a day.

``FastSigV4Auth`` is a subclass that does each piece once, with the same inputs and the
same steps:

- the signed headers are selected once per request, in botocore's order and with its
  blacklist, trimming and joining of repeated names;
- what a URL gives the signature (the normalised path, the canonical query, the ``host``)
  is remembered per URL (a bounded LRU);
- the signing key is remembered per (secret, day, region, service) (a bounded LRU; the
  secret is already held by the credentials object);
- everything else (dates, the security token, unsigned payloads, body hashing, logging)
  is botocore's own method, inherited.

It signs only where botocore would sign with plain ``v4``. ``install_fast_signer`` adds
two ``choose-signer`` handlers to the session's generic event: one first in line, which
answers ``geuse-v4`` where botocore's own ``set_operation_specific_signer`` would answer
``v4`` (operation auth ``v4``, no unsigned payload, a signing name that is not S3's), and
one last in line, which answers it where no botocore handler had an opinion and the
client's default is ``v4`` (EC2's case: its operations name no auth). Both stay silent
otherwise, so S3, SigV4a, bearer, unsigned, preference-resolved and presigned requests
(``v4-query``) take botocore's path unchanged, and operation-specific handlers (called
before generic ones) still win. The
class is registered in ``botocore.auth.AUTH_TYPE_MAPS`` under its own name, so no other
botocore client in the process changes.

Exactness: the sandbox does not check signatures, so a hypothesis property test
(``tests/test_signing.py``) signs generated requests (methods, paths, queries as params
and in the URL, repeated, blacklisted and whitespace-laden headers, bodies as bytes,
files and forms, session tokens, unsigned payloads) with both classes at one frozen
instant and requires every header to be equal. Measured: ``add_auth`` 27 µs against
botocore's 63 (2.3×, a DescribeSecurityGroups request with a session token), and a whole
DescribeAvailabilityZones call at RTT 0 5.6 % less CPU than the same client signing with
botocore's class (calls of the two alternated one by one, 3,000 each, medians).
"""

from __future__ import annotations

import functools
import hmac
import logging
from hashlib import sha256
from typing import Any
from urllib.parse import quote, urlsplit

import botocore.auth
from botocore.auth import SIGNED_HEADERS_BLACKLIST, SIGV4_TIMESTAMP, SigV4Auth, _host_from_url
from botocore.exceptions import NoCredentialsError
from botocore.utils import normalize_url_path

logger = logging.getLogger(__name__)

SIGNATURE_VERSION = "geuse-v4"
_S3_SIGNING_NAMES = frozenset({"s3", "s3-outposts", "s3-object-lambda", "s3express"})
_BLACKLIST = frozenset(SIGNED_HEADERS_BLACKLIST)
_PLAIN = SigV4Auth(None, "", "")  # for its stateless URL method only


@functools.lru_cache(maxsize=256)
def _url_parts(url: str) -> tuple[str, str, str]:
    """The normalised path, the URL's canonical query and the ``host`` header a URL gives
    a signature (botocore's own functions: the same for every request to one URL)."""
    parts = urlsplit(url)
    return (quote(normalize_url_path(parts.path), safe="/~"),
            SigV4Auth._canonical_query_string_url(_PLAIN, parts),
            _host_from_url(url))


@functools.lru_cache(maxsize=64)
def _signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    """SigV4's derived key: four HMACs that change once a day per region and service."""
    key = f"AWS4{secret}".encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), sha256).digest()
    return key


class FastSigV4Auth(SigV4Auth):
    """botocore's ``SigV4Auth`` with each piece of work done once (see the module)."""

    def add_auth(self, request: Any) -> None:
        if self.credentials is None:
            raise NoCredentialsError()
        stamp = botocore.auth.get_current_datetime().strftime(SIGV4_TIMESTAMP)
        request.context["timestamp"] = stamp
        self._modify_request_before_signing(request)

        path, url_query, host = _url_parts(request.url)
        values: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            lname = name.lower()
            if lname not in _BLACKLIST:
                values.setdefault(lname, []).append(value)
        if "host" not in values:
            values["host"] = [host]
        canonical_headers = "".join(
            f"{key}:{','.join(' '.join(v.split()) for v in values[key])}\n"
            for key in sorted(values))
        signed_headers = ";".join(sorted(name.strip() for name in values))
        query = (self._canonical_query_string_params(request.params) if request.params
                 else url_query)
        checksum = request.headers["X-Amz-Content-SHA256"] \
            if "X-Amz-Content-SHA256" in request.headers else self.payload(request)
        canonical_request = "\n".join((request.method.upper(), path, query,
                                       canonical_headers, signed_headers, checksum))
        day = stamp[:8]
        scope = f"{day}/{self._region_name}/{self._service_name}/aws4_request"
        string_to_sign = "\n".join((
            "AWS4-HMAC-SHA256", stamp, scope,
            sha256(canonical_request.encode("utf-8")).hexdigest()))
        key = _signing_key(self.credentials.secret_key, day, self._region_name,
                           self._service_name)
        signature = hmac.new(key, string_to_sign.encode("utf-8"), sha256).hexdigest()
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("CanonicalRequest:\n%s\nStringToSign:\n%s", canonical_request,
                         string_to_sign)
        request.headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.credentials.access_key}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}")


def _fast_for_operation_v4(signature_version: str, signing_name: str,
                           context: dict[str, Any], **_: Any) -> str | None:
    """First in line: ``geuse-v4`` where botocore's ``set_operation_specific_signer``
    would answer plain ``v4`` (operation auth ``v4``, body signed, not S3), else None."""
    if (signature_version == "v4" and context.get("auth_type") == "v4"
            and not context.get("unsigned_payload")
            and signing_name not in _S3_SIGNING_NAMES):
        return SIGNATURE_VERSION
    return None


def _fast_for_default_v4(signature_version: str, signing_name: str,
                         **_: Any) -> str | None:
    """Last in line (no botocore handler had an opinion, so the client's own default
    stands): ``geuse-v4`` where that default is plain ``v4``, else None."""
    if signature_version == "v4" and signing_name not in _S3_SIGNING_NAMES:
        return SIGNATURE_VERSION
    return None


def install_fast_signer(botocore_session: Any) -> None:
    """Sign the plain-``v4`` requests of every client made from ``botocore_session``
    afterwards with ``FastSigV4Auth`` (the session's ``choose-signer`` event)."""
    botocore.auth.AUTH_TYPE_MAPS.setdefault(SIGNATURE_VERSION, FastSigV4Auth)
    events = botocore_session.get_component("event_emitter")
    events.register_first("choose-signer", _fast_for_operation_v4,
                          unique_id="geuse_nb.fast_sigv4.operation")
    events.register_last("choose-signer", _fast_for_default_v4,
                         unique_id="geuse_nb.fast_sigv4.default")
