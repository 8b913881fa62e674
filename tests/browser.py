"""The one headless chromium the HTML tests use: where it is, the flags that keep it
offline (no DNS, a dead proxy, no background services) and quiet, and one browser per
test session driven over the DevTools protocol.

A chromium start costs 1-3 s on a quiet machine and 13-18 s on this loaded one, and the
page checks used to start one per page (two per test for a DOM and a screenshot). Now
the session starts one (``--remote-debugging-pipe``: fds 3 and 4, NUL-framed JSON, no
websocket or driver) and each check opens its page in a new target (tab) with its own
window size, reads the page's own requests (``Network.requestWillBeSent`` of its
target, so chromium's background traffic is not mistaken for the page's), its DOM and
a screenshot, then closes the target.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--hide-scrollbars",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
         "--proxy-bypass-list=<-loopback>"]

# pids of session-long processes (the browser); the leak guard does not count them or
# their descendants (renderers come and go with pages)
SESSION_PIDS: set[int] = set()


def chromium() -> str:
    """chromium's path; the test fails (not skips) when it is missing: `make test` installs it."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("chromium is not installed: run `make browser` "
                    "(or `apt-get install -y chromium`) to run the HTML tests", pytrace=False)
    return path


def _pipe_fds(commands: int, answers: int) -> None:
    """In the child: commands on fd 3, answers on fd 4 (via spare fds, so neither clobbers
    the other whatever numbers the pipes got)."""
    spare_in, spare_out = os.dup(commands), os.dup(answers)
    os.dup2(spare_in, 3)
    os.dup2(spare_out, 4)


@dataclass
class Seen:
    """What one page did in the browser."""

    url: str
    all_requests: list[str]
    dom: str
    png: bytes = b""
    console: list[str] = field(default_factory=list)

    @property
    def requests(self) -> list[str]:
        """Every URL the page asked for that is not itself, data:, blob: or about:."""
        return [u for u in self.all_requests
                if u != self.url and not u.startswith(("data:", "blob:", "about:"))]


class DevTools:
    """Headless chromium driven over ``--remote-debugging-pipe``."""

    def __init__(self, profile: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        self.proc = subprocess.Popen(
            [chromium(), *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={profile}",
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(3, 4), start_new_session=True,
            preexec_fn=lambda: _pipe_fds(to_chrome_r, from_chrome_w))
        SESSION_PIDS.add(self.proc.pid)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next += 1
        msg: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next:
                assert "error" not in reply, reply
                return dict(reply.get("result", {}))
            self.events.append(reply)

    def _read(self, timeout: float = 60) -> dict[str, Any]:
        import select

        while b"\0" not in self._buf:
            ready, _, _ = select.select([self._from_chrome], [], [], timeout)
            assert ready, "chromium did not answer over the DevTools pipe"
            chunk = os.read(self._from_chrome, 1 << 20)
            assert chunk, "chromium closed the DevTools pipe"
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return dict(json.loads(raw))

    def wait_for(self, method: str, predicate: Any = None) -> dict[str, Any]:
        for event in self.events:
            if event.get("method") == method and (predicate is None or predicate(event)):
                return event
        while True:
            event = self._read()
            self.events.append(event)
            if event.get("method") == method and (predicate is None or predicate(event)):
                return event

    def open(self, page: Path, size: tuple[int, int] = (1200, 2000), *,
             screenshot: bool = True) -> Seen:
        """Open ``page`` in a new tab of ``size``; what it requested, its DOM (after the
        network went idle, so its scripts ran) and a screenshot of the viewport."""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"]
        try:
            for method in ("Network.enable", "Page.enable", "Runtime.enable"):
                self.send(method, session)
            self.send("Page.setLifecycleEventsEnabled", session, enabled=True)
            self.send("Emulation.setDeviceMetricsOverride", session, width=size[0],
                      height=size[1], deviceScaleFactor=1, mobile=False)
            url = page.resolve().as_uri()
            loader = self.send("Page.navigate", session, url=url)["loaderId"]
            self.wait_for("Page.lifecycleEvent", lambda e: e.get("sessionId") == session
                          and e["params"]["name"] == "networkIdle"
                          and e["params"]["loaderId"] == loader)
            mine = [e for e in self.events if e.get("sessionId") == session]
            seen = Seen(url=url, all_requests=[
                e["params"]["request"]["url"] for e in mine
                if e.get("method") == "Network.requestWillBeSent"],
                dom=self.send("Runtime.evaluate", session,
                              expression="document.documentElement.outerHTML",
                              returnByValue=True)["result"]["value"],
                console=[json.dumps(e["params"])[:300] for e in mine
                         if e.get("method") in ("Runtime.exceptionThrown",)
                         or (e.get("method") == "Runtime.consoleAPICalled"
                             and e["params"].get("type") == "error")])
            if screenshot:
                seen.png = base64.b64decode(self.send("Page.captureScreenshot", session,
                                                      format="png")["data"])
            return seen
        finally:
            self.send("Target.closeTarget", targetId=target)
            self.events = [e for e in self.events if e.get("sessionId") != session]

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # the process group we started
        self.proc.wait()
        SESSION_PIDS.discard(self.proc.pid)
        os.close(self._to_chrome)
        os.close(self._from_chrome)


def pixels(png: bytes) -> Any:
    """A screenshot's pixels (rows × columns × RGBA floats)."""
    import io

    import matplotlib.image

    return matplotlib.image.imread(io.BytesIO(png), format="png")


def colour_ints(rgb: Any) -> Any:
    """One int per pixel, ``0xRRGGBB``, from rows of 0-255 channel values: ``np.unique``
    over them takes ~0.1 s for a 2.4 M-pixel screenshot, over the rows (``axis=0``, a
    lexicographic sort) 3.6 s."""
    return (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
