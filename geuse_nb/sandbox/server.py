"""The sandbox child process: moto behind waitress, one listening port per region.

Run by ``Sandbox.start()`` as ``python -m geuse_nb.sandbox.server '<json config>'``. It binds
the control port and one port per region, prints one JSON line (pid and ports) on stdout, then
loads moto and warms it in the background while serving. It exits when asked through the
control plane, and by itself when the parent goes away (EOF on stdin, or a new parent pid),
unless started detached (the CLI's ``sandbox start``).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from typing import Any

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher, WSGITask

from .app import SandboxApp
from .network import NetworkModel

log = logging.getLogger(__name__)


class StampedParser(HTTPRequestParser):
    """A request parser made when a request's first bytes arrive: it remembers when."""

    def __init__(self, adj: Adjustments) -> None:
        super().__init__(adj)
        self.arrived = time.monotonic()


class StampedTask(WSGITask):
    """Passes the arrival time to the app as ``environ["geuse.arrived"]``, so latency is
    counted from arrival: time a request waits for this one process (its GIL, its
    threads) overlaps the modelled RTT instead of adding to it, as AWS's servers would."""

    def get_environment(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environment()
        environ.setdefault("geuse.arrived", getattr(self.request, "arrived", None))
        return environ


class RegionChannel(HTTPChannel):
    """A connection: counted at accept; discards input while its region 'hangs'."""

    parser_class = StampedParser
    task_class = StampedTask

    def __init__(self, server: RegionServer, sock: socket.socket, addr: Any, adj: Adjustments,
                 map: dict[int, Any] | None = None) -> None:
        super().__init__(server, sock, addr, adj, map=map)
        server.child.app.counters.connection(server.region)
        server.child.app.tracker.opened(server.port, addr[1] if addr else None)

    def received(self, data: bytes) -> int:
        server: RegionServer = self.server  # waitress is untyped: self.server is Any
        if server.child.app.model.outage(server.region) == "hang":
            self.last_activity = time.time()
            return len(data)  # accepted and read, never answered
        return super().received(data)

    def del_channel(self, map: dict[int, Any] | None = None) -> None:
        server: RegionServer = self.server  # waitress is untyped: self.server is Any
        server.child.app.tracker.closed(server.port, self.addr[1] if self.addr else None)
        super().del_channel(map)


class RegionServer(TcpWSGIServer):
    """The listener of one region (or of the control plane, with region None)."""

    channel_class = RegionChannel

    def __init__(self, child: Child, region: str, sock: socket.socket) -> None:
        self.child = child
        self.region = region
        self.port = sock.getsockname()[1]
        super().__init__(child.app, map=child.map, _sock=sock, dispatcher=child.dispatcher,
                         adj=child.adj, bind_socket=False,
                         sockinfo=(sock.family, sock.type, sock.proto, sock.getsockname()))


class ControlServer(TcpWSGIServer):
    """The control-plane listener (plain waitress channels, not counted)."""


def _bind(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


class Child:
    """Everything the child runs: sockets, servers, the app, the parent watch."""

    def __init__(self, config: dict[str, Any]) -> None:
        regions: list[str] = config["regions"]
        self.map: dict[int, Any] = {}
        threads = int(config.get("threads", 128))
        self.adj = Adjustments(threads=threads, connection_limit=4096, channel_timeout=3600,
                               cleanup_interval=60, backlog=1024, asyncore_use_poll=True,
                               ident="geuse-sandbox")
        self.dispatcher = ThreadedTaskDispatcher()
        self.dispatcher.set_thread_count(threads)
        control_sock = _bind(int(config.get("control_port", 0)))
        region_socks = {r: _bind() for r in regions}
        self.ports = {r: s.getsockname()[1] for r, s in region_socks.items()}
        self.control_port = control_sock.getsockname()[1]
        model = NetworkModel(regions, config["rtt"], config["handshake_factor"], config["seed"])
        info = {"pid": os.getpid(), "seed": config["seed"], "home_region": config["home_region"],
                "control_port": self.control_port,
                "endpoints": {r: f"http://127.0.0.1:{p}" for r, p in self.ports.items()}}
        self.app = SandboxApp(regions={p: r for r, p in self.ports.items()},
                              control_port=self.control_port, model=model, seed=config["seed"],
                              home_region=config["home_region"], info=info)
        self.app.on_outage = self.apply_outages
        self.app.on_shutdown = self.request_shutdown
        self.control = ControlServer(self.app, map=self.map, _sock=control_sock,
                                     dispatcher=self.dispatcher, adj=self.adj, bind_socket=False,
                                     sockinfo=(control_sock.family, control_sock.type,
                                               control_sock.proto, control_sock.getsockname()))
        self.servers: dict[str, RegionServer | None] = {
            r: RegionServer(self, r, s) for r, s in region_socks.items()}
        self._stopping = threading.Event()

    # ------------------------------------------------------------ outages
    def apply_outages(self) -> None:
        """Close listeners of 'refuse' regions, reopen recovered ones; runs in the loop thread."""
        done = threading.Event()

        def change() -> None:
            try:
                for region, server in list(self.servers.items()):
                    refuse = self.app.model.outage(region) == "refuse"
                    if refuse and server is not None:
                        for channel in list(server.active_channels.values()):
                            channel.close()
                        server.close()
                        self.servers[region] = None
                    elif not refuse and server is None:
                        self.servers[region] = RegionServer(self, region,
                                                            _bind(self.ports[region]))
            finally:
                done.set()

        self.control.trigger.pull_trigger(change)
        done.wait(10)

    # ------------------------------------------------------------ lifecycle
    def request_shutdown(self) -> None:
        """Stop soon (after the control response that asked for it is sent)."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        timer = threading.Timer(0.05, lambda: self.control.trigger.pull_trigger(self._close_all))
        timer.daemon = True
        timer.start()

    def _close_all(self) -> None:
        wasyncore.close_all(self.map)

    def watch_parent(self) -> None:
        """Exit when the parent dies: EOF on stdin, or the parent pid changes."""
        parent = os.getppid()

        def read_stdin() -> None:
            try:
                while sys.stdin.buffer.read(1024):
                    pass
            except OSError:
                pass
            self.request_shutdown()

        def poll_pid() -> None:
            while not self._stopping.wait(1.0):
                if os.getppid() != parent:
                    self.request_shutdown()

        for target in (read_stdin, poll_pid):
            threading.Thread(target=target, daemon=True, name="geuse-parent-watch").start()

    def run(self) -> None:
        wasyncore.loop(timeout=self.adj.asyncore_loop_timeout, map=self.map, use_poll=True)


def _quiet_logging() -> None:
    for name in ("werkzeug", "moto", "waitress", "flask", "botocore", "boto3", "urllib3"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def main(argv: list[str] | None = None) -> int:
    """Child entry point: ``python -m geuse_nb.sandbox.server '<json config>'``."""
    argv = sys.argv[1:] if argv is None else argv
    config = json.loads(argv[0])
    _quiet_logging()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us; Ctrl-C is for it
    child = Child(config)
    sys.stdout.write(json.dumps({"pid": os.getpid(), "control_port": child.control_port,
                                 "ports": child.ports}) + "\n")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # nothing else may write to the parent's pipe
    if not config.get("detach"):
        child.watch_parent()

    def background() -> None:
        child.app.load_moto()
        child.app.warm_up()

    threading.Thread(target=background, daemon=True, name="geuse-sandbox-warm").start()
    child.run()
    child.dispatcher.shutdown(cancel_pending=True, timeout=1)
    logging.shutdown()
    os._exit(0)  # worker threads may sit in RTT sleeps; nothing else needs to finish


if __name__ == "__main__":
    raise SystemExit(main())
