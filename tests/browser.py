"""The one headless chromium the HTML tests use: where it is, and the flags that keep it
offline (no DNS, a dead proxy, no background services) and quiet."""

from __future__ import annotations

import shutil

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--hide-scrollbars",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
         "--proxy-bypass-list=<-loopback>"]


def chromium() -> str:
    """chromium's path; the test fails (not skips) when it is missing: `make test` installs it."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("chromium is not installed: run `make browser` "
                    "(or `apt-get install -y chromium`) to run the HTML tests", pytrace=False)
    return path
