"""What a request is (service, operation, protocol) and AWS-shaped error responses for it.

The sandbox answers faults and bad requests the way AWS does for the request's protocol, so
botocore parses them into the usual ``ClientError`` (and retries what AWS would let it retry).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

_CREDENTIAL = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
_CBOR_PATH = re.compile(r"/service/([^/]+)/operation/([^/?]+)")
REST_XML_SERVICES = frozenset({"s3", "route53", "cloudfront"})


class RequestInfo:
    """The parts of a request the middleware needs, parsed once."""

    def __init__(self, environ: Mapping[str, Any], body: bytes) -> None:
        auth = str(environ.get("HTTP_AUTHORIZATION", ""))
        match = _CREDENTIAL.search(auth)
        self.signed_region: str | None = match.group(1) if match else None
        self.service: str = match.group(2) if match else "unknown"
        self.method = str(environ.get("REQUEST_METHOD", "GET"))
        self.path = str(environ.get("PATH_INFO", "/"))
        ctype = str(environ.get("CONTENT_TYPE", ""))
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        self.params: dict[str, list[str]] = {}
        cbor = _CBOR_PATH.search(self.path)
        if str(environ.get("HTTP_SMITHY_PROTOCOL", "")) == "rpc-v2-cbor" or cbor:
            self.protocol = "cbor"
            self.operation = cbor.group(2) if cbor else "unknown"
        elif target:
            self.protocol = "json"
            self.operation = target.rsplit(".", 1)[-1]
        elif "x-www-form-urlencoded" in ctype or (self.method == "GET" and "Action=" in
                                                  str(environ.get("QUERY_STRING", ""))):
            raw = body.decode("utf-8", "replace") if body else str(environ.get("QUERY_STRING"))
            self.params = parse_qs(raw, keep_blank_values=True)
            self.protocol = "ec2" if self.service == "ec2" else "query"
            self.operation = (self.params.get("Action") or [""])[0]
        else:
            self.protocol = "rest-xml" if self.service in REST_XML_SERVICES else "rest-json"
            self.operation = f"{self.method} {self.path.split('?')[0]}"

    def param(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[0] if values else None


def _cbor_text(text: str) -> bytes:
    data = text.encode()
    n = len(data)
    if n < 24:
        head = bytes([0x60 | n])
    elif n < 256:
        head = bytes([0x78, n])
    else:
        head = bytes([0x79]) + n.to_bytes(2, "big")
    return head + data


def _cbor_map(items: Mapping[str, str]) -> bytes:
    return bytes([0xA0 | len(items)]) + b"".join(
        _cbor_text(k) + _cbor_text(v) for k, v in items.items())


def error_response(info: RequestInfo, status: int, code: str, message: str,
                   sender: bool = True) -> tuple[str, list[tuple[str, str]], bytes]:
    """(status line, headers, body) of an AWS error in the protocol of ``info``."""
    request_id = str(uuid.uuid4())
    status_line = f"{status} {_REASONS.get(status, 'Error')}"
    headers = [("x-amzn-RequestId", request_id)]
    if info.protocol == "ec2":
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
                f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
                f"</Error></Errors><RequestID>{request_id}</RequestID></Response>").encode()
        headers.append(("Content-Type", "text/xml;charset=UTF-8"))
    elif info.protocol in ("query", "rest-xml"):
        kind = "Sender" if sender else "Receiver"
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error>"
                f"<Type>{kind}</Type><Code>{escape(code)}</Code>"
                f"<Message>{escape(message)}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>").encode()
        headers.append(("Content-Type", "text/xml"))
    elif info.protocol == "cbor":
        body = _cbor_map({"__type": code, "message": message})
        headers += [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"),
                    ("x-amzn-query-error", f"{code};{'Sender' if sender else 'Receiver'}")]
    else:
        body = json.dumps({"__type": code, "message": message}).encode()
        headers += [("Content-Type", "application/x-amz-json-1.1"),
                    ("x-amzn-ErrorType", code),
                    ("x-amzn-query-error", f"{code};{'Sender' if sender else 'Receiver'}")]
    headers.append(("Content-Length", str(len(body))))
    return status_line, headers, body


def throttle(info: RequestInfo) -> tuple[int, str, str]:
    """(status, code, message) of the throttling error AWS sends for this protocol."""
    if info.protocol == "ec2":
        return 503, "RequestLimitExceeded", "Request limit exceeded."
    if info.protocol == "query":
        return 400, "Throttling", "Rate exceeded"
    if info.protocol == "rest-xml":
        return 503, "SlowDown", "Please reduce your request rate."
    return 400, "ThrottlingException", "Rate exceeded"


SERVER_ERRORS = ((500, "InternalError", "An internal error has occurred"),
                 (503, "ServiceUnavailable", "The service is unavailable. Try again later."))

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 500: "Internal Server Error", 503: "Service Unavailable"}
