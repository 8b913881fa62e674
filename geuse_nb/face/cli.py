"""``geuse-nb``: the command line. One argparse parser; each command is one entry in
``COMMANDS`` (a function that adds its subparser), so a new command (``bench``) is one
function and one line.

    geuse-nb runbooks
    geuse-nb run RUNBOOK|NOTEBOOK [-p NAME VALUE]... [-f params.yaml] [--out DIR] [--html]
    geuse-nb new RUNBOOK [--to DIR] [--force]
    geuse-nb lab [--dir DIR] [JUPYTER-ARGS...]
    geuse-nb report NOTEBOOK [--out PATH] [--no-input] [--redact]
    geuse-nb report --compare A.json B.json [--out PATH.html|.md|.json]
    geuse-nb cache stats | clear [memory|disk|all]
    geuse-nb demo [--out DIR]
    geuse-nb sandbox start [--seed N] [--home-region R] [--regions a,b] [--rtt S]
    geuse-nb sandbox status [--url URL] [-v]
    geuse-nb sandbox stop [--url URL]
    geuse-nb bench [SCENARIO...] [--quick] [--rtt S] [--json PATH] [--html PATH]
    geuse-nb --version

``runbooks`` lists the runbooks this install carries (``face/_runbooks.py``); ``run`` and
``new`` take a runbook's number, name or a unique part of it (``spot``) as well as a path.
``run`` executes a notebook with papermill (parameters injected after the cell tagged
``parameters``) into ``--out`` and exports it to offline HTML (``face/export.py``); a
failing cell exits 1 with one line naming the cell and the error.

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

from ..errors import GeuseError, SandboxError, UsageError

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


def _join(args: argparse.Namespace) -> object:
    """The running sandbox at ``_url(args)``; a stale URL says how to start one."""
    from ..sandbox import Sandbox

    url = _url(args)
    try:
        return Sandbox.join(url)
    except SandboxError as exc:
        raise SandboxError(f"no sandbox at {url}: it did not answer "
                           f"({str(exc.args[0]).split(': ')[-1]})",
                           suggestion="start one with `geuse-nb sandbox start`; if "
                                      "GEUSE_SANDBOX_URL is set, it may be stale") from exc


def _sandbox_status(args: argparse.Namespace) -> int:
    from ..sandbox import Sandbox

    box = _join(args)
    assert isinstance(box, Sandbox)
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
    box = _join(args)
    assert isinstance(box, Sandbox)
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


# ---------------------------------------------------------------- run, report, cache, demo
def _run(args: argparse.Namespace) -> int:
    from ._runbooks import resolve
    from .runner import load_parameters, run_notebook

    notebook = resolve(args.notebook)
    params = load_parameters(args.parameters_file, args.parameter)
    result = run_notebook(notebook, args.out, params, html=args.html,
                          no_input=args.no_input)
    print(f"executed: {result.notebook} ({result.seconds:.1f} s)")
    if result.html is not None:
        print(f"html: {result.html}")
    if result.failure is not None:
        print(f"geuse-nb: {result.failure}", file=sys.stderr)
        return 1
    return 0


def _report(args: argparse.Namespace) -> int:
    if args.compare:
        return _compare(args)
    if args.notebook is None:
        raise UsageError("geuse-nb report needs a NOTEBOOK or --compare A.json B.json",
                         suggestion="e.g. geuse-nb report reports/01_spot_selection.ipynb")
    from .export import export

    print(f"html: {export(args.notebook, args.out, no_input=args.no_input, redact=args.redact)}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    """Two saved JSON reports side by side: Markdown on stdout, and --out (.html/.md/.json)."""
    from ..observe.report import Report

    first, second = (Report.load(p) for p in args.compare)
    both = first.compare(second)
    both.redact = both.redact or args.redact
    print(both.to_markdown(), end="")
    if args.out is not None:
        print(f"saved: {both.save(args.out)}")
    return 0


def _cache(args: argparse.Namespace) -> int:
    from ..cache.tiered import TieredCache
    from ..config import resolve_settings

    settings = resolve_settings()
    cache = TieredCache(settings)
    try:
        if args.action == "clear":
            cache.clear(args.tier)
            print(f"cleared the {args.tier} cache tier(s) in {settings.cache_dir}")
            return 0
        cache.lookup("geuse-nb cache stats", kind="default")  # the disk tier opens on use
        stats = cache.stats()
        disk = stats[stats["tier"] == "disk"] if "tier" in stats else stats
        print(f"cache dir {settings.cache_dir} ({stats.attrs.get('disk_state', '?')})")
        if not len(disk):
            print("  no entries")
        for row in disk.itertuples():
            print(f"  {row.kind:<16} {int(getattr(row, 'entries', 0) or 0):>6} entries "
                  f"{_size(getattr(row, 'bytes', 0)):>10}")
    finally:
        cache.close()
    return 0


def _size(value: object) -> str:
    try:
        n = float(value)  # type: ignore[arg-type]  # a pandas scalar or NA
    except (TypeError, ValueError):
        return "?"
    if n != n:  # NA
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return "?"


def _runbooks(args: argparse.Namespace) -> int:
    from ._runbooks import catalogue, describe, runbooks_dir

    books = catalogue()
    print(f"{len(books)} runbooks in {runbooks_dir()}"
          " (run one: geuse-nb run NUMBER|NAME [-p NAME VALUE]... --html)")
    for book in books:
        print(describe(book))
    return 0 if books else 1


def _new(args: argparse.Namespace) -> int:
    from ._runbooks import copy_out

    print(f"copied: {copy_out(args.runbook, args.to, force=args.force)}")
    return 0


def _lab(args: argparse.Namespace) -> int:
    from .lab import start

    return start(args.dir, args.jupyter_args)


def _demo(args: argparse.Namespace) -> int:
    from .demo import run

    return 0 if run(args.out) else 1


# ---------------------------------------------------------------- the parser
def _add_run(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run", help="execute a notebook with parameters (papermill), then export it to HTML",
        description="Execute NOTEBOOK with papermill into --out, parameters injected after "
                    "its cell tagged `parameters`; exit 1 naming the failing cell.")
    run.add_argument("notebook", metavar="RUNBOOK|NOTEBOOK",
                     help="a runbook's number or name (`geuse-nb runbooks`), or a path")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                     metavar=("NAME", "VALUE"),
                     help="a parameter (VALUE read as YAML: 3, 2.5, true, [a, b], text)")
    run.add_argument("-f", "--parameters-file", type=Path, metavar="PARAMS.yaml",
                     help="parameters from a YAML file (-p wins)")
    run.add_argument("--out", type=Path, default=Path("reports"),
                     help="folder for the executed notebook (default: reports)")
    run.add_argument("--html", action="store_true", help="also write offline HTML")
    run.add_argument("--no-input", action="store_true", help="HTML without the code cells")
    run.set_defaults(func=_run)


def _add_runbooks(commands: argparse._SubParsersAction) -> None:
    books = commands.add_parser("runbooks", help="list the runbooks: number, name, what each "
                                "answers, its parameters")
    books.set_defaults(func=_runbooks)
    new = commands.add_parser("new", help="copy a runbook out to edit (never over a file "
                              "unless --force)")
    new.add_argument("runbook", metavar="RUNBOOK", help="number, name or part of it")
    new.add_argument("--to", type=Path, default=Path("."), help="folder (default: here)")
    new.add_argument("--force", action="store_true", help="overwrite an existing copy")
    new.set_defaults(func=_new)
    lab = commands.add_parser("lab", help="open the runbooks in JupyterLab (the `lab` extra)")
    lab.add_argument("--dir", type=Path, help="folder to open (default: the checkout's "
                     "notebooks/, else ./runbooks with copies of the installed runbooks)")
    lab.add_argument("jupyter_args", nargs=argparse.REMAINDER, metavar="JUPYTER-ARGS",
                     help="passed to `jupyter lab`, e.g. --no-browser --port 8899")
    lab.set_defaults(func=_lab)


def _add_report(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser("report", help="export an executed notebook to offline HTML, "
                                 "or compare two saved JSON reports")
    report.add_argument("notebook", type=Path, metavar="NOTEBOOK", nargs="?")
    report.add_argument("--compare", nargs=2, type=Path, metavar=("A.json", "B.json"),
                        help="two reports saved as .json: headline figures and per-operation "
                             "latencies side by side, with B ÷ A ratios")
    report.add_argument("--out", type=Path, help="file or folder (default: next to NOTEBOOK; "
                        "with --compare, a .html/.md/.json file)")
    report.add_argument("--no-input", action="store_true", help="without the code cells")
    report.add_argument("--redact", action="store_true",
                        help="mask account ids, ARNs and access key ids before sharing")
    report.set_defaults(func=_report)


def _add_cache(commands: argparse._SubParsersAction) -> None:
    cache = commands.add_parser("cache", help="the on-disk cache: stats or clear")
    cache.add_argument("action", choices=["stats", "clear"])
    cache.add_argument("tier", nargs="?", default="all", choices=["memory", "disk", "all"],
                       help="for clear (default: all)")
    cache.set_defaults(func=_cache)


def _add_sandbox(commands: argparse._SubParsersAction) -> None:
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


def _add_demo(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser("demo", help="run every runbook notebook on a sandbox into "
                                            "--out, with reports/index.html (`make demo`)")
    demo.add_argument("--out", type=Path, default=Path("reports"),
                      help="folder for the reports (default: reports)")
    demo.set_defaults(func=_demo)


def _add_bench(commands: argparse._SubParsersAction) -> None:
    from .bench import command

    bench = commands.add_parser(
        "bench", help="benchmarks side by side: the kit vs what users write, the bash "
                      "suite and the physical limit (`make bench`)",
        description="Run benchmark scenarios on a sandbox, contenders alternated; print "
                    "medians, min-max and ratios against the targets.")
    command.add_arguments(bench)
    bench.set_defaults(func=command.main)


# One entry per command, in --help order.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_runbooks, _add_run, _add_report, _add_cache, _add_demo, _add_sandbox, _add_bench,
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: one subparser per entry of ``COMMANDS``."""
    from .. import __version__

    parser = argparse.ArgumentParser(prog="geuse-nb", description="geuse_nb command line: "
                                     "run runbook notebooks, export them, manage the cache "
                                     "and the sandbox")
    parser.add_argument("--version", action="version", version=f"geuse-nb {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (errors: a message and 1, no traceback)."""
    began = time.monotonic()
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra and args.command != "lab":  # only `lab` passes arguments on (to jupyter)
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        if extra:
            args.jupyter_args = [*extra, *args.jupyter_args]
        func: Callable[[argparse.Namespace], int] = args.func
        try:
            code = func(args)
        except GeuseError as exc:
            print(f"geuse-nb: {exc}", file=sys.stderr)
            code = 1
        finally:
            log.debug("geuse-nb %s took %.2f s", args.command, time.monotonic() - began)
        sys.stdout.flush()  # inside the try: a closed pipe raises here, not at exit
        return code
    except BrokenPipeError:
        # `geuse-nb ... | head` closed the pipe: stop quietly, as `cat` does. Point stdout
        # at devnull so the interpreter's final flush does not raise again.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a killed writer


if __name__ == "__main__":
    raise SystemExit(main())
