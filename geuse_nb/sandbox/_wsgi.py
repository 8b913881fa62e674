"""A WSGI environ for a query-protocol call the sandbox makes to moto from inside itself.

Warming regions (``app.py``) and reading a stack before a failing update
(``stack_rollback.py``) call moto's app directly, without HTTP: moto takes the region
and service from the SigV4 credential scope, so the request carries a scoped (unsigned)
``Authorization`` header.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode


def internal_environ(region: str, service: str,
                     params: Mapping[str, str]) -> dict[str, Any]:
    """POST ``params`` (Action, Version, …) to ``service`` in ``region``."""
    body = urlencode(dict(params)).encode()
    return {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/", "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "0", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/x-www-form-urlencoded; charset=utf-8",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": ("AWS4-HMAC-SHA256 Credential=AKIASANDBOXINTERNAL/20240101/"
                               f"{region}/{service}/aws4_request, SignedHeaders=host, "
                               "Signature=0"),
        "wsgi.errors": io.StringIO(), "wsgi.version": (1, 0), "wsgi.multithread": True,
        "wsgi.multiprocess": False, "wsgi.run_once": False,
    }
