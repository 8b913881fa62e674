"""The sandbox's WSGI application: control plane, network model, faults, spot market, moto.

Region ports: every request takes at least its RTT (plus the handshake on a connection's
first request), may draw a fault, is counted, and is answered by the spot market (EC2
DescribeSpotPriceHistory) or moto. Anything that would come back as a server stack trace is
answered with the AWS error shape of the request's protocol instead. The control port serves
small JSON endpoints under ``/_geuse/``.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import GeuseError
from ._moto_patches import memoised_dispatcher, without_ecs_images
from ._replay import ReplayMarket
from ._roles import RoleGate
from ._wsgi import internal_environ
from .awserror import SERVER_ERRORS, RequestInfo, error_response, throttle
from .capacity import CapacityGate, Ticket
from .counters import Counters
from .market import MarketError, Query, SpotMarket, to_xml
from .network import NetworkModel
from .stack_rollback import UpdateRollback
from .stacks import StackClock

log = logging.getLogger(__name__)
StartResponse = Callable[..., Any]
# Signing name → botocore service name, where they differ (for action validation).
_AZS = {"Action": "DescribeAvailabilityZones", "Version": "2016-11-15"}  # a warm-up call
_MODEL_NAMES = {"monitoring": "cloudwatch", "email": "ses", "elasticloadbalancing": "elbv2"}


def served_regions_only(payload: bytes, regions: list[str]) -> bytes:
    """moto's DescribeRegions XML with only the ``<item>``s of ``regions``."""
    import re

    def keep(match: re.Match[bytes]) -> bytes:
        name = re.search(rb"<regionName>([^<]+)</regionName>", match.group(0))
        return match.group(0) if name and name.group(1).decode() in regions else b""

    return re.sub(rb"\s*<item>.*?</item>", keep, payload, flags=re.DOTALL)


class ConnectionTracker:
    """Connections that have not sent a request yet (they pay the handshake)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fresh: set[tuple[int, str]] = set()

    def opened(self, port: int, remote_port: object) -> None:
        with self._lock:
            self._fresh.add((port, str(remote_port)))

    def closed(self, port: int, remote_port: object) -> None:
        with self._lock:
            self._fresh.discard((port, str(remote_port)))

    def first_request(self, port: int, remote_port: object) -> bool:
        key = (port, str(remote_port))
        with self._lock:
            if key in self._fresh:
                self._fresh.discard(key)
                return True
            return False


class SandboxApp:
    """One WSGI callable for the control port and every region port."""

    def __init__(self, *, regions: Mapping[int, str], control_port: int, model: NetworkModel,
                 seed: int, home_region: str, info: Mapping[str, Any]) -> None:
        self.region_by_port = dict(regions)
        self.regions = list(regions.values())
        self.control_port = control_port
        self.model = model
        self.seed = seed
        self.home_region = home_region
        self.info = dict(info)
        self.counters = Counters()
        self.stacks = StackClock()  # CloudFormation provisioning time and failures
        self.rollback = UpdateRollback(self._call_moto)  # failed updates: last good template
        self.roles = RoleGate()  # accounts whose roles AssumeRole refuses
        self.tracker = ConnectionTracker()
        self.moto_ready = threading.Event()
        self.warm = threading.Event()  # every region's backend started
        self.home_warm = threading.Event()  # the home region's (start() waits for this one)
        self.on_outage: Callable[[], None] = lambda: None
        self.on_shutdown: Callable[[], None] = lambda: None
        self._moto: Any = None
        self._market: SpotMarket | None = None
        self._replay: ReplayMarket | None = None  # a given history, served instead of _market
        self._models: dict[str, Any] = {}
        self._zones: dict[str, dict[str, str]] = {}  # region → {AZ name: AZ id}, from moto
        self.capacity = CapacityGate(lambda region: list(self._zones.get(region, {})))
        self._lock = threading.Lock()
        self._in_flight = 0  # region requests being served (read by the warm-up)
        self._last_request = 0.0

    # ------------------------------------------------------------ set-up (child, at start)
    def load_moto(self) -> None:
        """Import moto and build its server app and the spot market (slow: ~1 s)."""
        from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        without_ecs_images()
        self._moto = memoised_dispatcher(DomainDispatcherApplication)(create_backend_app)
        # {AZ name: AZ id} as moto's DescribeAvailabilityZones reports them: the one table
        # that maps the price table's AZ ids (use1-az2) to the names served (us-east-1c).
        zones = {r: {z.name: z.zone_id for z in RegionsAndZonesBackend.zones.get(r, [])}
                 for r in self.regions}
        self._market = SpotMarket(self.seed, zones)
        self._zones = zones
        self.moto_ready.set()

    def warm_up(self, idle: float = 0.3) -> None:
        """Start moto's EC2 backend of every region: home first (~0.8 s for us-east-1), then
        the others only while no request has been served for ``idle`` seconds, so warming
        never slows the calls someone is timing (it competes for the GIL)."""
        self._call_moto(internal_environ(self.home_region, "ec2", _AZS))
        self.home_warm.set()
        for region in self.regions:
            if region == self.home_region:
                continue
            while self._in_flight or time.monotonic() - self._last_request < idle:
                time.sleep(idle / 3)
            self._call_moto(internal_environ(region, "ec2", _AZS))
        self.warm.set()

    def _call_moto(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        self.moto_ready.wait()
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]],
                           exc_info: object = None) -> Callable[[bytes], None]:
            captured["status"], captured["headers"] = status, list(headers)
            return lambda data: None

        chunks = self._moto(environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()
        return captured["status"], captured["headers"], body

    # ------------------------------------------------------------ WSGI
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        port = int(environ.get("SERVER_PORT") or 0)
        if port == self.control_port:
            return self._control(environ, start_response)
        region = self.region_by_port.get(port, self.home_region)
        with self._lock:
            self._in_flight += 1
        try:
            return self._serve(environ, start_response, port, region)
        finally:
            with self._lock:
                self._in_flight -= 1
                self._last_request = time.monotonic()

    def _serve(self, environ: dict[str, Any], start_response: StartResponse, port: int,
               region: str) -> list[bytes]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length else environ["wsgi.input"].read()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        arrived = environ.get("geuse.arrived") or time.monotonic()
        info = RequestInfo(environ, body)
        new = self.tracker.first_request(port, environ.get("REMOTE_PORT"))
        rtt, handshake = self.model.latency(region, new)
        fate = self.model.draw(region)
        self.counters.request(region, info.service, info.operation, fate)
        status, headers, payload = self._answer(region, info, fate, environ)
        # Latency runs from arrival: processing (and waiting for this process) counts
        # towards it, so the client sees the modelled network, not the emulator's CPU.
        left = arrived + handshake + rtt - time.monotonic()
        if left > 0:
            time.sleep(left)
        start_response(status, headers)
        return [payload]

    def _answer(self, region: str, info: RequestInfo, fate: str | None,
                environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        if fate == "throttle":
            return error_response(info, *throttle(info))
        if fate == "error":
            status, code, message = self.model.pick(region, SERVER_ERRORS)
            return error_response(info, status, code, message, sender=False)
        if info.signed_region is not None and info.signed_region not in self.regions:
            code = "AuthFailure" if info.protocol == "ec2" else "SignatureDoesNotMatch"
            return error_response(
                info, 401 if info.protocol == "ec2" else 403, code,
                f"Credential should be scoped to a valid region, not '{info.signed_region}'. "
                f"This sandbox serves: {', '.join(self.regions)}.")
        region = info.signed_region or region  # as moto does: AWS_ENDPOINT_URL sends every
        if info.protocol in ("ec2", "query"):  # region to one port; the signature says which
            if not info.operation:
                return error_response(info, 400, "MissingAction",
                                      "The request must contain the parameter Action.")
            if not self._known_action(info):
                return error_response(info, 400, "InvalidAction",
                                      f"The action {info.operation} is not valid for this "
                                      "web service.")
        if info.protocol == "ec2" and info.operation == "DescribeSpotPriceHistory":
            return self._spot(region, info)
        if info.protocol == "ec2" and info.operation == "RunInstances":
            return self._run_instances(region, info, environ)
        refused_role = self.roles.refuse(info)
        if refused_role:
            return refused_role
        cfn = info.service == "cloudformation"
        refused = self.stacks.refuse(region, info.operation, info.params) if cfn else None
        if refused:
            return error_response(info, 400, *refused)
        known = self.stacks.validated(info.operation, info.params,
                                      lambda: self._moto_answer(info, environ)) if cfn else None
        if known:
            return known
        good = None  # a failing update: the stack as it was, to roll back to
        if cfn and info.operation == "UpdateStack" and self.stacks.timing(region).fail:
            good = self.rollback.last_good(region, info.param("StackName") or "")
        answer = self._moto_answer(info, environ, cfn=cfn, region=region)
        if good is not None and answer[0].startswith("2"):
            self.rollback.restore(region, good)
        return answer

    def _moto_answer(self, info: RequestInfo, environ: dict[str, Any], *, cfn: bool = False,
                     region: str = "") -> tuple[str, list[tuple[str, str]], bytes]:
        try:
            status, headers, payload = self._call_moto(environ)
        except Exception:  # a moto bug must reach the client as an AWS error, not a traceback
            log.debug("sandbox: moto failed on %s.%s", info.service, info.operation,
                      exc_info=True)
            return error_response(info, 500, "InternalError", "An internal error has occurred",
                                  sender=False)
        ctype = next((v for k, v in headers if k.lower() == "content-type"), "")
        if status.startswith("5") and not any(t in ctype for t in ("xml", "json", "cbor")):
            return error_response(info, 500, "InternalError", "An internal error has occurred",
                                  sender=False)
        if info.protocol == "ec2" and info.operation == "DescribeRegions" and status[:1] == "2":
            # moto lists its 38 regions; a client fanning out over them would fail in the
            # ones not served here, so answer only what this sandbox serves.
            payload = served_regions_only(payload, self.regions)
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(payload))))
        if cfn:
            shown = self.stacks.answered(region, info.operation, info.params, status, payload)
            if shown is not payload:
                payload = shown
                headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
                headers.append(("Content-Length", str(len(payload))))
        return status, headers, payload

    def _run_instances(self, region: str, info: RequestInfo,
                       environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        """RunInstances through the capacity gate (capacity, image, count), then moto."""
        self.moto_ready.wait()
        ticket = self.capacity.admit(region, info, environ)
        if not isinstance(ticket, Ticket):
            status, code, message = ticket
            return error_response(info, status, code, message, sender=status < 500)
        answer = self._moto_answer(info, environ)
        if not answer[0].startswith("2"):
            self.capacity.refund(ticket)
        return answer

    def _known_action(self, info: RequestInfo) -> bool:
        name = _MODEL_NAMES.get(info.service, info.service)
        with self._lock:
            if name not in self._models:
                import botocore.session

                try:
                    model = botocore.session.get_session().get_service_model(name)
                    self._models[name] = set(model.operation_names)
                except Exception:  # unknown to botocore: let moto decide
                    self._models[name] = None
            names = self._models[name]
        return names is None or info.operation in names

    def _spot(self, region: str, info: RequestInfo) -> tuple[str, list[tuple[str, str]], bytes]:
        self.moto_ready.wait()
        market: SpotMarket | ReplayMarket | None = self._replay or self._market
        if market is None:  # moto failed to load
            return error_response(info, 503, "ServiceUnavailable", "The sandbox is starting.",
                                  sender=False)
        try:
            items, token = market.describe(region, Query.from_params(info.params))
        except MarketError as exc:
            return error_response(info, 400, exc.code, str(exc))
        body = to_xml(items, token, str(uuid.uuid4()))
        return "200 OK", [("Content-Type", "text/xml;charset=UTF-8"),
                          ("Content-Length", str(len(body)))], body

    # ------------------------------------------------------------ control plane
    def _control(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        path = str(environ.get("PATH_INFO", "")).rstrip("/")
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            payload = json.loads(raw) if raw else {}
            status, result = "200 OK", self._route(method, path, payload)
        except GeuseError as exc:
            status, result = "400 Bad Request", {"error": str(exc), "type": "SandboxError"}
        except (ValueError, TypeError) as exc:
            status, result = "400 Bad Request", {"error": f"bad control request: {exc}"}
        except LookupError:
            status, result = "404 Not Found", {"error": f"no control endpoint {method} {path}"}
        body = json.dumps(result).encode()
        start_response(status, [("Content-Type", "application/json"),
                                ("Content-Length", str(len(body)))])
        return [body]

    def _route(self, method: str, path: str, payload: dict[str, Any]) -> Any:
        if method == "GET" and path == "/_geuse/info":
            return {**self.info, "warm": self.warm.is_set(), "ready": self.home_warm.is_set(),
                    "moto": self.moto_ready.is_set()}
        if path == "/_geuse/network":
            if method == "POST":
                self.model.set_network(rtt=payload.get("rtt"), region=payload.get("region"),
                                       handshake_factor=payload.get("handshake_factor"))
            return self.model.state()
        if path == "/_geuse/faults" and method == "POST":
            self.model.set_faults(**payload)
            self.on_outage()
            return self.model.state()
        if path == "/_geuse/faults/clear" and method == "POST":
            self.model.set_faults(None)
            self.on_outage()
            return self.model.state()
        if path == "/_geuse/counters":
            return self.counters.snapshot()
        if path == "/_geuse/stacks":
            if method == "POST":
                return self.stacks.set(payload.get("region"), payload.get("provision_seconds", 0.0),
                                       payload.get("fail", False))
            return self.stacks.state()
        if path == "/_geuse/spot-history" and method == "POST":
            self._replay = ReplayMarket(payload.get("rows") or [], self.regions)
            return self._replay.summary()
        if path == "/_geuse/spot-history/clear" and method == "POST":
            self._replay = None
            return {"replaying": False}
        if path == "/_geuse/spot-history":
            return self._replay.summary() if self._replay else {"replaying": False}
        if path.startswith(("/_geuse/capacity", "/_geuse/interrupt")):
            self.moto_ready.wait()
            return self.capacity.route(path, method, payload, self.regions)
        if path == "/_geuse/assume-role":
            return self.roles.route(method, payload)
        if path == "/_geuse/counters/reset" and method == "POST":
            self.counters.reset()
            return {"reset": True}
        if path == "/_geuse/shutdown" and method == "POST":
            self.on_shutdown()
            return {"stopping": True}
        raise LookupError(path)
