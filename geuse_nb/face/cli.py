"""``geuse-nb``: the command line. Subcommands are groups of subparsers, so more can be added.

    geuse-nb sandbox start [--seed N] [--home-region R] [--regions a,b] [--rtt S]
    geuse-nb sandbox status [--url URL]
    geuse-nb sandbox stop [--url URL]

``sandbox start`` starts a detached sandbox that several notebooks can share, prints the
``export GEUSE_SANDBOX_URL=...`` line to paste, and remembers the URL in a small state file in
the cache dir, so ``status``/``stop`` work without ``--url`` too.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import GeuseError

log = logging.getLogger(__name__)
STATE_FILE = "sandbox.json"


def _state_path() -> Path:
    from ..config import resolve_settings

    return Path(resolve_settings().cache_dir) / STATE_FILE


def _url(args: argparse.Namespace) -> str:
    """--url, then GEUSE_SANDBOX_URL, then the state file."""
    import os

    if args.url:
        return str(args.url)
    if os.environ.get("GEUSE_SANDBOX_URL"):
        return os.environ["GEUSE_SANDBOX_URL"]
    path = _state_path()
    if path.exists():
        return str(json.loads(path.read_text())["url"])
    raise GeuseError("no sandbox URL: none given, GEUSE_SANDBOX_URL is unset and no sandbox was "
                     "started here", suggestion="pass --url or run `geuse-nb sandbox start`")


def _sandbox_start(args: argparse.Namespace) -> int:
    from ..sandbox import Sandbox

    regions = [r.strip() for r in args.regions.split(",") if r.strip()] if args.regions else None
    box = Sandbox(seed=args.seed, home_region=args.home_region, regions=regions, rtt=args.rtt,
                  detach=True).start()
    path = _state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"url": box.url, "pid": box.pid}))
    print(f"sandbox pid {box.pid} serving {len(box.regions)} regions")
    print(f"export GEUSE_SANDBOX_URL={box.url}")
    return 0


def _sandbox_status(args: argparse.Namespace) -> int:
    from ..sandbox import Sandbox

    box = Sandbox.join(_url(args))
    counters = box.counters()
    requests = sum(r["requests"] for r in counters["requests"])
    print(f"sandbox pid {box.pid} at {box.url}: {len(box.regions)} regions, "
          f"{sum(counters['connections'].values())} connections, {requests} requests")
    if args.verbose:
        for region in box.regions:
            print(f"  {region:<16} {box.endpoint_url(region)}")
    return 0


def _sandbox_stop(args: argparse.Namespace) -> int:
    import psutil

    from ..sandbox import Sandbox

    url = _url(args)
    box = Sandbox.join(url)
    pid = box.pid
    box.shutdown()
    if pid is not None:
        try:
            psutil.Process(pid).wait(10)
        except psutil.NoSuchProcess:
            pass
        except psutil.TimeoutExpired:
            psutil.Process(pid).kill()
    path = _state_path()
    if path.exists() and json.loads(path.read_text()).get("url") == url:
        path.unlink()
    print(f"stopped sandbox pid {pid}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run

    run(args.out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (``run``/``report`` subcommands are added next to ``sandbox``)."""
    parser = argparse.ArgumentParser(prog="geuse-nb", description="geuse_nb command line")
    commands = parser.add_subparsers(dest="command", required=True)

    sandbox = commands.add_parser("sandbox", help="the embedded AWS sandbox")
    actions = sandbox.add_subparsers(dest="action", required=True)
    start = actions.add_parser("start", help="start a shared sandbox and print its URL")
    start.add_argument("--seed", type=int, default=42)
    start.add_argument("--home-region", default="us-east-1")
    start.add_argument("--regions", help="comma-separated region names (default: 17 regions)")
    start.add_argument("--rtt", type=float, help="RTT in seconds for every region "
                                                 "(default: from distance to the home region)")
    start.set_defaults(func=_sandbox_start)
    for name, func, text in (("status", _sandbox_status, "show a running sandbox"),
                             ("stop", _sandbox_stop, "stop a running sandbox")):
        sub = actions.add_parser(name, help=text)
        sub.add_argument("--url", help="control URL (default: $GEUSE_SANDBOX_URL)")
        if name == "status":
            sub.add_argument("-v", "--verbose", action="store_true", help="list endpoints")
        sub.set_defaults(func=func)

    demo = commands.add_parser("demo", help="run the demo session against a fresh sandbox and "
                                            "write its reports (what `make demo` runs)")
    demo.add_argument("--out", type=Path, default=Path("reports"),
                      help="folder for the reports (default: reports)")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (errors: a message and 1, no traceback)."""
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    began = time.monotonic()
    try:
        return func(args)
    except GeuseError as exc:
        print(f"geuse-nb: {exc}", file=sys.stderr)
        return 1
    finally:
        log.debug("geuse-nb %s took %.2f s", args.command, time.monotonic() - began)


if __name__ == "__main__":
    raise SystemExit(main())
