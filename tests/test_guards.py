"""The test guards themselves: they must trip when a test misbehaves."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from netguard import NetworkGuardError

pytest_plugins = ["pytester"]
CONFTEST = Path(__file__).with_name("conftest.py").read_text()
NETGUARD = Path(__file__).with_name("netguard.py").read_text()


@pytest.mark.expect_network_violation
def test_network_guard_refuses_public_address() -> None:
    with socket.socket() as sock, pytest.raises(NetworkGuardError, match=r"192\.0\.2\.1"):
        sock.connect(("192.0.2.1", 443))  # TEST-NET-1: never reached, refused before connect


@pytest.mark.expect_network_violation
def test_network_guard_refuses_name_resolution_of_aws() -> None:
    with pytest.raises(NetworkGuardError, match=r"amazonaws\.com"):
        socket.getaddrinfo("ec2.us-east-1.amazonaws.com", 443)


def test_network_guard_allows_loopback() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass


def test_guards_fail_a_test_that_swallows_a_violation_or_leaks(
        pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(netguard=NETGUARD)
    pytester.makepyfile(test_inner="""
        import socket, threading, time

        def test_swallowed_violation():
            try:
                socket.create_connection(("198.51.100.7", 80), timeout=1)
            except Exception:
                pass

        def test_leaked_thread():
            stop = threading.Event()
            threading.Thread(target=stop.wait, args=(30,), name="leaky", daemon=True).start()

        def test_clean():
            pass
    """)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=2)  # errors come from the guards at teardown
    result.stdout.fnmatch_lines(["*network guard: test tried to reach*198.51.100.7*",
                                 "*leak guard: test left threads leaky*"])


def test_import_is_light() -> None:
    """`import geuse_nb` loads none of the heavy dependencies (they load on first use)."""
    code = ("import sys, geuse_nb; heavy = ['pandas', 'matplotlib', 'IPython', 'moto', "
            "'boto3', 'botocore', 'ipywidgets', 'joblib', 'diskcache', 'psutil']; "
            "print(sorted(m for m in heavy if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.timeout(60)
def test_network_guard_runs_inside_notebook_kernels(tmp_path: Path) -> None:
    """The IPython startup file the notebook tests use makes a kernel refuse the network."""
    import os

    import netguard
    from jupyter_client import KernelManager

    km = KernelManager(kernel_name="python3")
    km.start_kernel(env={**os.environ, "IPYTHONDIR": str(netguard.ipython_dir(tmp_path))})
    kc = km.client()
    try:
        kc.start_channels()
        kc.wait_for_ready(timeout=30)
        reply = kc.execute_interactive(
            "import socket\n"
            # no guard, no attempt: a broken startup file must not send a packet anywhere
            "assert socket.socket.connect.__name__ == '_guarded_connect', 'no guard'\n"
            "socket.create_connection(('192.0.2.1', 443), timeout=2)\n",
            timeout=30, output_hook=lambda _: None)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "NetworkGuardError"
