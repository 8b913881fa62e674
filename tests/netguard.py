"""Offline tests: loopback-only networking and fake AWS credentials, for every test process
and notebook kernel.

``install()`` replaces ``socket.socket.connect``/``connect_ex`` and ``socket.getaddrinfo``
so that any attempt to reach beyond loopback raises ``NetworkGuardError`` and is recorded
in ``violations``, even if the caller swallows the error. Tests never reach the internet
or real AWS; this makes that a fact, not a hope.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path


class NetworkGuardError(RuntimeError):
    """Code under test tried to reach beyond loopback."""


violations: list[str] = []


def _is_local(address: object) -> bool:
    if isinstance(address, str):  # AF_UNIX path
        return True
    if not isinstance(address, tuple) or not address:
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: resolving it is already reaching out
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _check(address: object) -> None:
    if not _is_local(address):
        violations.append(repr(address))
        raise NetworkGuardError(f"tried to connect to {address!r}: only loopback is allowed")


def _guarded_connect(self: socket.socket, address: object) -> None:
    _check(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    _check(address)
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: object, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
    if host not in (None, "localhost") and not _is_local((host,)):
        violations.append(f"resolve {host!r}")
        raise NetworkGuardError(f"tried to resolve {host!r}: only loopback is allowed")
    return _real_getaddrinfo(host, *args, **kwargs)


def offline_aws_environment() -> None:
    """Fake credentials and no profile or metadata lookups, set before boto3 reads anything:
    nothing in this process or its children (sandboxes, kernels) can sign for a real account."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "GEUSE_SANDBOX_URL"):
        os.environ.pop(name, None)
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "GEUSE_BACKEND": "sandbox",
    })


def install() -> None:
    """Guard this process's sockets (idempotent)."""
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo


def ipython_dir(root: Path) -> Path:
    """An IPYTHONDIR whose startup file installs this guard in every kernel started with it
    (nbval and papermill kernels are separate processes: the test process's guard does not
    reach them)."""
    startup = root / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-netguard.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
        "import netguard\n"
        "netguard.install()\n"
    )
    return root
