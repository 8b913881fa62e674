"""``Sandbox``: start, join, control and stop the embedded AWS from the parent process.

Standard library only (pandas only inside ``counters_frame``), so importing
``geuse_nb.sandbox`` stays cheap. The child is ``geuse_nb.sandbox.server``; everything the
parent knows about it comes from the control plane at ``Sandbox.url``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import selectors
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import SandboxError
from .regions import DEFAULT_REGIONS, check_region, resolve_rtts

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)
START_DEADLINE = 4.0  # seconds: start() returns by then even if the home region is still warming
READY_TIMEOUT = 30.0  # seconds to wait for the child's ports before giving up


def _stop_process(proc: subprocess.Popen[bytes], control: str | None) -> None:
    """Ask the child to exit, then terminate, then kill; always reap it."""
    if proc.poll() is None and control:
        with contextlib.suppress(SandboxError):
            _request(control, "POST", "/_geuse/shutdown", {}, timeout=2.0)
    for step in (None, proc.terminate, proc.kill):
        if step is not None:
            step()
        try:
            proc.wait(3.0)
            break
        except subprocess.TimeoutExpired:
            continue
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            pipe.close()


def _request(base: str, method: str, path: str, payload: Any = None,
             timeout: float = 10.0) -> Any:
    """One JSON call to the control plane (http.client: no proxies, loopback only)."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        body = json.dumps(payload).encode() if payload is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = json.loads(response.read() or b"null")
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise SandboxError(f"sandbox at {base} did not answer {method} {path}: {exc}",
                           suggestion="is it running? `geuse-nb sandbox status`") from exc
    finally:
        conn.close()
    if response.status >= 400:
        raise SandboxError(f"sandbox refused {method} {path}: "
                           f"{(data or {}).get('error', response.status)}")
    return data


class Sandbox:
    """The embedded AWS: moto over keep-alive HTTP, one port per region, in a child process.

    ``rtt`` is in seconds: one number for every region, a ``{region: seconds}`` mapping, or
    None for distance-based defaults from ``home_region``. Use as a context manager, or call
    ``start()``/``stop()``.
    """

    def __init__(self, seed: int = 42, home_region: str = "us-east-1",
                 regions: Iterable[str] | None = None,
                 rtt: float | Mapping[str, float] | None = None,
                 handshake_factor: float = 2.0, *, throttle_rate: float = 0.0,
                 error_rate: float = 0.0, threads: int = 128, detach: bool = False) -> None:
        names = list(DEFAULT_REGIONS if regions is None else regions)
        if not names or not all(isinstance(r, str) and r for r in names):
            raise SandboxError(f"regions={regions!r} is not valid",
                               suggestion="give a list of region names such as ['us-east-1']")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise SandboxError(f"seed={seed!r} is not valid", suggestion="give an integer")
        if home_region not in names:
            names.insert(0, home_region)
        if not isinstance(threads, int) or threads < 1:
            raise SandboxError(f"threads={threads!r} is not valid",
                               suggestion="give a positive integer (default 128)")
        self.seed = seed
        self.home_region = home_region
        self._config: dict[str, Any] = {
            "seed": seed, "home_region": home_region, "regions": list(dict.fromkeys(names)),
            "rtt": resolve_rtts(names, home_region, rtt),
            "handshake_factor": handshake_factor, "threads": threads, "detach": detach,
        }
        self._faults = {"throttle_rate": throttle_rate, "error_rate": error_rate}
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize | None = None
        self._url: str | None = None
        self._endpoints: dict[str, str] = {}
        self._pid: int | None = None
        self._owned = True

    # ------------------------------------------------------------ lifecycle
    def start(self) -> Sandbox:
        """Start the child process (returns self; a no-op when already running)."""
        if self._url is not None:
            return self
        from .network import NetworkModel

        NetworkModel(self._config["regions"], self._config["rtt"],  # validate here, not in
                     self._config["handshake_factor"], self.seed)  # the child
        began = time.monotonic()
        detach = bool(self._config["detach"])
        with tempfile.TemporaryFile() as stderr:  # kept only to explain a failed start
            proc = subprocess.Popen(
                [sys.executable, "-m", "geuse_nb.sandbox.server", json.dumps(self._config)],
                stdin=subprocess.DEVNULL if detach else subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=stderr, start_new_session=detach, close_fds=True,
            )
            try:
                ready = self._read_ready(proc, stderr)
            except BaseException:
                _stop_process(proc, None)
                raise
        self._proc = proc
        self._pid = ready["pid"]
        self._url = f"http://127.0.0.1:{ready['control_port']}"
        self._endpoints = {r: f"http://127.0.0.1:{p}" for r, p in ready["ports"].items()}
        if not detach:
            self._finalizer = weakref.finalize(self, _stop_process, proc, self._url)
        if any(self._faults.values()):
            self.set_faults(throttle_rate=self._faults["throttle_rate"],
                            error_rate=self._faults["error_rate"])
        self._wait_warm(began + START_DEADLINE)
        log.info("sandbox pid %s at %s (%d regions, %.1f s)", self._pid, self._url,
                 len(self._endpoints), time.monotonic() - began)
        return self

    @staticmethod
    def _read_ready(proc: subprocess.Popen[bytes], stderr: Any) -> dict[str, Any]:
        if proc.stdout is None:
            raise SandboxError("the sandbox process has no stdout pipe")
        deadline = time.monotonic() + READY_TIMEOUT
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if sel.select(timeout=0.2):
                    line = proc.stdout.readline()
                    if line:
                        return json.loads(line)
                if proc.poll() is not None:
                    break
        stderr.seek(0)
        tail = stderr.read().decode(errors="replace")[-2000:]
        raise SandboxError(f"the sandbox process did not start (exit {proc.poll()}): {tail}",
                           suggestion="run `python -m geuse_nb.sandbox.server` to see why, "
                                      "or check that moto[server] and waitress are installed")

    def _wait_warm(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self._info().get("ready"):
                return
            time.sleep(0.05)
        log.debug("sandbox still warming after start(); first calls may be slower")

    @classmethod
    def join(cls, url: str) -> Sandbox:
        """Attach to a running sandbox at control URL ``url`` without owning it."""
        if not isinstance(url, str) or not url.startswith("http://"):
            raise SandboxError(f"sandbox URL {url!r} is not valid",
                               suggestion="use the URL `geuse-nb sandbox start` printed, "
                                          "e.g. http://127.0.0.1:5123")
        info = _request(url.rstrip("/"), "GET", "/_geuse/info")
        box = cls(seed=info["seed"], home_region=info["home_region"],
                  regions=list(info["endpoints"]))
        box._owned = False
        box._url = url.rstrip("/")
        box._pid = info["pid"]
        box._endpoints = dict(info["endpoints"])
        return box

    def stop(self) -> None:
        """Stop an owned child (idempotent); a joined sandbox is only detached from."""
        if self._finalizer is not None:
            self._finalizer()  # runs _stop_process once
            self._finalizer = None
        elif self._owned and self._url is not None:
            if self._proc is not None:
                _stop_process(self._proc, self._url)
            else:
                _request(self._url, "POST", "/_geuse/shutdown", {})
        self._proc = None
        self._url = None

    def shutdown(self) -> None:
        """Stop the child even when this object only joined it (``geuse-nb sandbox stop``)."""
        if self._owned:
            self.stop()
        elif self._url is not None:
            _request(self._url, "POST", "/_geuse/shutdown", {})
            self._url = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"at {self._url}" if self._url else "stopped"
        return f"<geuse_nb.Sandbox seed={self.seed} {state}>"

    # ------------------------------------------------------------ where
    @property
    def url(self) -> str:
        """The control URL (what GEUSE_SANDBOX_URL holds)."""
        if self._url is None:
            raise SandboxError("the sandbox is not running", suggestion="call start() first")
        return self._url

    @property
    def running(self) -> bool:
        return self._url is not None

    @property
    def owned(self) -> bool:
        """True when this object started the child (stop() ends it)."""
        return self._owned

    @property
    def pid(self) -> int | None:
        return self._pid

    @property
    def regions(self) -> list[str]:
        return list(self._endpoints or self._config["regions"])

    def endpoint_url(self, region: str) -> str:
        """The endpoint of ``region``; ``UsageError`` naming the closest names when unknown."""
        check_region(region, self.regions)
        if region not in self._endpoints:
            raise SandboxError("the sandbox is not running", suggestion="call start() first")
        return self._endpoints[region]

    # ------------------------------------------------------------ control
    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        return _request(self.url, method, path, payload)

    def _info(self) -> dict[str, Any]:
        return self._call("GET", "/_geuse/info")

    def network(self) -> dict[str, Any]:
        """RTT per region, handshake factor, seed and faults currently in force."""
        return self._call("GET", "/_geuse/network")

    def set_network(self, rtt: float | Mapping[str, float] | None = None,
                    region: str | None = None,
                    handshake_factor: float | None = None) -> dict[str, Any]:
        """Change RTT (seconds; one region, all, or a mapping) and/or the handshake factor."""
        if region is not None:
            check_region(region, self.regions)
        rtt = dict(rtt) if isinstance(rtt, Mapping) else rtt
        return self._call("POST", "/_geuse/network",
                          {"rtt": rtt, "region": region, "handshake_factor": handshake_factor})

    def set_faults(self, region: str | None = None, throttle_rate: float = 0.0,
                   error_rate: float = 0.0, outage: str | None = None,
                   seed: int | None = None) -> dict[str, Any]:
        """Set the faults of one region (or all): rates in [0, 1], outage 'refuse'|'hang'|None."""
        if region is not None:
            check_region(region, self.regions)
        return self._call("POST", "/_geuse/faults",
                          {"region": region, "throttle_rate": throttle_rate,
                           "error_rate": error_rate, "outage": outage, "seed": seed})

    def clear_faults(self) -> dict[str, Any]:
        """No throttling, no errors, no outages anywhere."""
        return self._call("POST", "/_geuse/faults/clear", {})

    def set_stacks(self, region: str | None = None, provision_seconds: float = 0.0,
                   fail: bool = False) -> dict[str, Any]:
        """CloudFormation stacks created or updated from now on in ``region`` (or every
        region) stay ``*_IN_PROGRESS`` for ``provision_seconds``, then complete, or with
        ``fail=True`` end in ``ROLLBACK_COMPLETE``/``UPDATE_ROLLBACK_COMPLETE`` with a
        reason (see ``sandbox/stacks.py``). ``set_stacks()`` puts every region back."""
        from .stacks import check_timing

        if region is not None:
            check_region(region, self.regions)
        check_timing(provision_seconds, fail)
        return self._call("POST", "/_geuse/stacks", {"region": region,
                                                     "provision_seconds": provision_seconds,
                                                     "fail": fail})

    def stacks(self) -> dict[str, Any]:
        """Stack timing per region and the stacks it applies to."""
        return self._call("GET", "/_geuse/stacks")

    def set_spot_history(self, history: pd.DataFrame, *,
                         shift_to_now: bool = False) -> dict[str, Any]:
        """Serve ``history`` (the columns ``geuse_nb.ops.spot.history`` returns: region,
        availability_zone, instance_type, product, price, timestamp) to
        DescribeSpotPriceHistory instead of the generated market, with the same windows,
        filters and pages. ``product`` may be left out (Linux/UNIX). ``shift_to_now`` moves
        every timestamp by one offset so the newest change is now: a recorded market plays
        as if it had just happened. Cached answers stay cached: read with ``refresh=True``
        (or a fresh cache) after changing the market. Returns what the sandbox now holds."""
        from ._replay import history_rows

        return self._call("POST", "/_geuse/spot-history",
                          {"rows": history_rows(history, self.regions, shift_to_now)})

    def clear_spot_history(self) -> dict[str, Any]:
        """Go back to the generated market."""
        return self._call("POST", "/_geuse/spot-history/clear", {})

    def spot_history(self) -> dict[str, Any]:
        """What the replayed market holds (rows, pools, regions, first, last), or
        ``{"replaying": False}``."""
        return self._call("GET", "/_geuse/spot-history")

    def set_capacity(self, pools: Mapping[tuple[str, str, str], int]) -> dict[str, Any]:
        """``{(region, az, type): n}``: the instances each pool can still launch (pools not
        named are unlimited); beyond it RunInstances answers InsufficientInstanceCapacity
        with AWS's message (see ``sandbox/capacity.py``). Replaces the previous table."""
        from .capacity import capacity_rows

        return self._call("POST", "/_geuse/capacity",
                          {"pools": capacity_rows(pools, self.regions)})

    def clear_capacity(self) -> dict[str, Any]:
        """Every pool unlimited again."""
        return self._call("POST", "/_geuse/capacity/clear", {})

    def interrupt(self, instance_ids: Iterable[str], *, reclaim: bool = True) -> list[dict]:
        """Interrupt spot instances as AWS does (terminated, reason
        ``Server.SpotInstanceTermination``); ``reclaim`` sets their pools' capacity to 0."""
        ids = [instance_ids] if isinstance(instance_ids, str) else list(instance_ids)
        if not ids or not all(isinstance(i, str) and i.startswith("i-") for i in ids):
            raise SandboxError(f"instance_ids={instance_ids!r} is not valid",
                               suggestion="give instance ids such as ['i-0abc…']")
        return list(self._call("POST", "/_geuse/interrupt",
                               {"instance_ids": ids, "reclaim": reclaim})["interrupted"])

    def counters(self) -> dict[str, Any]:
        """``{"connections": {region: n}, "requests": [{region, service, operation, requests,
        throttled, errors}, ...]}`` since start or the last reset."""
        return self._call("GET", "/_geuse/counters")

    def counters_frame(self) -> pd.DataFrame:
        """Requests per (region, service, operation); ``.attrs["connections"]`` per region."""
        import pandas as pd

        data = self.counters()
        frame = pd.DataFrame(data["requests"], columns=["region", "service", "operation",
                                                        "requests", "throttled", "errors"])
        frame.attrs["connections"] = data["connections"]
        return frame

    def connections(self, region: str | None = None) -> int:
        """Connections accepted (in ``region``, or all)."""
        counts = self.counters()["connections"]
        return counts.get(region, 0) if region else sum(counts.values())

    def requests(self, region: str | None = None) -> int:
        """Requests served (in ``region``, or all)."""
        rows = self.counters()["requests"]
        return sum(r["requests"] for r in rows if region is None or r["region"] == region)

    def create_accounts(self, names: Iterable[str]) -> list[dict[str, str]]:
        """Member accounts of the sandbox's organization (made if needed), one per name →
        [{account_id, name}]; roles in them are assumable until ``deny_assume_role``."""
        from ._roles import create_accounts

        home = self.regions[0] if self.home_region not in self.regions else self.home_region
        return create_accounts(self.endpoint_url(home), home, names)

    def deny_assume_role(self, account_ids: Iterable[str]) -> list[str]:
        """AssumeRole into these accounts answers AccessDenied (as AWS does when a role's
        trust policy does not allow the caller) → every denied id."""
        from ._roles import account_ids as checked

        return list(self._call("POST", "/_geuse/assume-role",
                               {"deny": checked(account_ids)})["denied"])

    def allow_assume_role(self, account_ids: Iterable[str]) -> list[str]:
        """Undo ``deny_assume_role`` for these accounts → the ids still denied."""
        from ._roles import account_ids as checked

        return list(self._call("POST", "/_geuse/assume-role",
                               {"allow": checked(account_ids)})["denied"])

    def reset_counters(self) -> None:
        """Zero every counter."""
        self._call("POST", "/_geuse/counters/reset", {})


def start(**kwargs: Any) -> Sandbox:
    """``Sandbox(**kwargs).start()``."""
    return Sandbox(**kwargs).start()
