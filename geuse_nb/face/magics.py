"""IPython magics: ``%geuse``, ``%aws`` and ``%%timed`` (``%load_ext geuse_nb``).

One configurable ``Magics`` class (``%config GeuseMagics.kit_name = "ops"``). Every
command works on the default kit (``gn.get_kit()``: the one the last ``gn.init`` made, or
``%geuse init``), so a notebook that writes ``kit = gn.init(...)`` and then ``%aws ...``
talks to that kit.

- ``%aws SERVICE OPERATION [--region R] [--PARAM VALUE…] [--refresh] [--query Q]``: the AWS
  CLI's syntax (``face/_awsargs.py`` maps it onto botocore's model) through ``kit.call``,
  so the answer is cached, paginated and recorded; a DataFrame when the response has a
  main list, else the dict; ``--query`` is applied with jmespath as the CLI does, after the
  cache (so a changed query never refetches).
- ``%geuse init|status|report|cache``: argparse subcommands; ``%geuse?`` prints their help.
- ``%%timed NAME [--category C]``: the cell as one ``kit.metrics.timer`` row.

Every bad input raises IPython's ``UsageError``: one line, no traceback, naming the input
and the closest valid names. Tab completion of services, operations and options comes from
a context matcher registered with IPython's completer (``_complete``).
"""

from __future__ import annotations

import argparse
import logging
import shlex
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

from IPython.core.error import UsageError as IPyUsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from traitlets import Bool, Enum, Unicode

from ..errors import GeuseError, did_you_mean
from . import _awsargs

log = logging.getLogger(__name__)


class _Parser(argparse.ArgumentParser):
    """argparse that raises IPython's ``UsageError`` instead of exiting the kernel."""

    def error(self, message: str) -> NoReturn:
        raise IPyUsageError(f"{self.prog}: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise _HelpShown(message or "")


class _HelpShown(Exception):
    """``-h`` printed the help; the magic returns quietly."""


def _geuse_parser() -> _Parser:
    parser = _Parser(prog="%geuse", description="geuse_nb from a notebook: start a kit, see "
                     "its state, its report and its cache.", add_help=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)
    init = sub.add_parser("init", help="start the default kit (closes the previous one)")
    init.add_argument("--backend", choices=["sandbox", "aws", "auto"],
                      help="where calls go (default: GeuseMagics.backend, then settings)")
    init.add_argument("--name", help="the kit's name (default: GeuseMagics.kit_name)")
    init.add_argument("--aws-profile", help="AWS profile for the aws backend")
    sub.add_parser("status", help="backend, sandbox URL, cache and pool at a glance")
    report = sub.add_parser("report", help="the performance report so far (displays inline)")
    report.add_argument("--save", metavar="PATH", help="also write it (.html, .md or .json)")
    cache = sub.add_parser("cache", help="cache stats, or clear a tier")
    cache.add_argument("action", choices=["stats", "clear"])
    cache.add_argument("tier", nargs="?", default="all", choices=["memory", "disk", "all"],
                       help="for clear (default: all)")
    return parser


def _aws_parser() -> _Parser:
    """Only for ``%aws?``/``--help``: the real parsing is ``_awsargs`` against the model."""
    parser = _Parser(
        prog="%aws", usage="%(prog)s SERVICE OPERATION [--region R] [--PARAM VALUE ...] "
                           "[--refresh] [--query JMESPATH]",
        description="One AWS call in the AWS CLI's syntax, through kit.call (cached, "
                    "paginated, recorded). Returns a DataFrame when the response has a main "
                    "list, else the dict.",
        epilog="Parameters follow the operation's input shape: --instance-ids i-1 i-2 "
               "(lists), --filters Name=tag:env,Values=prod,dev (structures, the CLI's "
               "shorthand) or JSON in quotes, --dry-run/--no-dry-run (booleans). "
               "`%aws SERVICE OPERATION --help` lists an operation's parameters; "
               "`%aws SERVICE --help` its operations.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("service", metavar="SERVICE", help="e.g. ec2, sts, cloudformation")
    parser.add_argument("operation", metavar="OPERATION", help="e.g. describe-regions")
    parser.add_argument("--region", help="default: the kit's default region")
    parser.add_argument("--refresh", action="store_true", help="skip the cache for this read")
    parser.add_argument("--query", metavar="JMESPATH", help="filter the response (jmespath)")
    return parser


def _timed_parser() -> _Parser:
    parser = _Parser(prog="%%timed", description="Run the cell as one recorded operation "
                     "(kit.metrics.timer): it shows in the report's operations table.")
    parser.add_argument("name", metavar="NAME", nargs="+", help="the operation's name")
    parser.add_argument("--category", default="cell", help="its category (default: cell)")
    return parser


GEUSE_PARSER = _geuse_parser()
AWS_PARSER = _aws_parser()
TIMED_PARSER = _timed_parser()


@contextmanager
def _as_usage_errors() -> Iterator[None]:
    """geuse_nb's own ``UsageError`` (and its other errors) → IPython's one-line error."""
    try:
        yield
    except GeuseError as exc:
        raise IPyUsageError(str(exc)) from None


def _split(line: str, prog: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise IPyUsageError(f"{prog}: {exc} in {line!r}") from None


@magics_class
class GeuseMagics(Magics):
    """geuse_nb's magics; configure with ``%config GeuseMagics.<trait> = value``."""

    backend = Enum(["sandbox", "aws", "auto"], default_value=None, allow_none=True,
                   help="Backend for `%geuse init` without --backend (None: the settings')."
                   ).tag(config=True)
    kit_name = Unicode("notebook", help="Kit name for `%geuse init` without --name."
                       ).tag(config=True)
    frames = Bool(True, help="`%aws` returns a DataFrame when the response has a main "
                  "list (False: always the dict).").tag(config=True)
    echo_timed = Bool(True, help="`%%timed` prints the cell's name and seconds."
                      ).tag(config=True)

    # ------------------------------------------------------------ %geuse
    @line_magic
    def geuse(self, line: str) -> Any:
        tokens = _split(line, "%geuse")
        commands = ("init", "status", "report", "cache")
        if tokens and not tokens[0].startswith("-") and tokens[0] not in commands:
            raise IPyUsageError(f"%geuse has no command {tokens[0]!r}"
                                f"{did_you_mean(tokens[0], commands)}; commands: "
                                + ", ".join(commands))
        try:
            args = GEUSE_PARSER.parse_args(tokens)
        except _HelpShown:
            return None
        with _as_usage_errors():
            handler: Callable[[argparse.Namespace], Any] = getattr(self, f"_geuse_{args.command}")
            return handler(args)

    geuse.__doc__ = GEUSE_PARSER.format_help()

    def _geuse_init(self, args: argparse.Namespace) -> Any:
        from ..kit import init

        settings: dict[str, Any] = {}
        if args.aws_profile:
            settings["aws_profile"] = args.aws_profile
        kit = init(args.name or self.kit_name, backend=args.backend or self.backend,
                      **settings)
        print(self._status_lines(kit)[0])
        return None

    def _geuse_status(self, args: argparse.Namespace) -> None:
        print("\n".join(self._status_lines(self._kit())))

    @staticmethod
    def _status_lines(kit: Any) -> list[str]:
        backend = kit.backend
        where = (f"sandbox at {backend.sandbox_url} ({len(backend.endpoints)} regions)"
                 if backend.kind == "sandbox" else f"AWS (profile {backend.profile or 'default'})")
        lines = [f"kit {kit.name!r}: {where}, default region {backend.default_region}"]
        cache = kit.cache.stats()
        lookups = int(cache.attrs.get("lookups", 0))
        rate = cache.attrs.get("hit_rate")
        entries = int(cache["entries"].fillna(0).sum()) if "entries" in cache else 0
        lines.append(f"cache: {lookups} lookups, hit rate "
                     f"{'-' if rate is None or lookups == 0 else f'{rate:.0%}'}, "
                     f"{entries} entries, disk {cache.attrs.get('disk_state', '?')}")
        pool = kit.pool.stats()
        if len(pool):
            requests = int(pool["requests"].sum())
            conns = int(pool["connections_opened"].sum())
            lines.append(f"pool: {len(pool)} clients, {requests} requests over {conns} "
                         f"connections")
        else:
            lines.append("pool: no clients yet")
        return lines

    def _geuse_report(self, args: argparse.Namespace) -> Any:
        report = self._kit().report()
        if args.save:
            path = report.save(args.save)
            print(f"report written: {path}")
        return report

    def _geuse_cache(self, args: argparse.Namespace) -> Any:
        kit = self._kit()
        if args.action == "stats":
            return kit.cache.stats()
        kit.cache.clear(args.tier)
        print(f"cache cleared: {args.tier}")
        return None

    @staticmethod
    def _kit() -> Any:
        from ..kit import get_kit

        return get_kit()

    # ------------------------------------------------------------ %aws
    @line_magic
    def aws(self, line: str) -> Any:
        tokens = _split(line, "%aws")
        if not tokens or tokens[0] in ("-h", "--help"):
            AWS_PARSER.print_help()
            return None
        if "-h" in tokens or "--help" in tokens:
            with _as_usage_errors():
                print(_operation_help(tokens))
            return None
        with _as_usage_errors():
            command = _awsargs.parse_command(tokens)
            return self._run_aws(command)

    aws.__doc__ = AWS_PARSER.format_help()

    def _run_aws(self, command: _awsargs.AwsCommand) -> Any:
        kit = self._kit()
        result = kit.call(command.service, command.snake, command.region,
                          refresh=command.refresh, **command.params)
        if command.query:
            import jmespath

            found = jmespath.search(command.query, result)
            return _as_frame(found) if self.frames else found
        if not self.frames:
            return result
        return _main_frame(kit, command, result)

    # ------------------------------------------------------------ %%timed
    @cell_magic
    def timed(self, line: str, cell: str) -> Any:
        try:
            args = TIMED_PARSER.parse_args(_split(line, "%%timed"))
        except _HelpShown:
            return None
        name = " ".join(args.name)
        if self.shell is None:
            raise IPyUsageError("%%timed needs an IPython shell")
        kit = self._kit()
        began = time.perf_counter()
        error: BaseException | None = None
        try:
            with kit.metrics.timer(name, args.category):
                outcome = self.shell.run_cell(cell, store_history=False)
                error = outcome.error_in_exec or outcome.error_before_exec
                if error is not None:  # shown already; raised again so the row says failed
                    raise error
        except BaseException as exc:
            if exc is not error:
                raise
            return None
        if self.echo_timed:
            print(f"{name}: {time.perf_counter() - began:.3f} s")
        return None

    timed.__doc__ = TIMED_PARSER.format_help()


def _as_frame(value: Any) -> Any:
    """A list of dicts as a DataFrame; anything else as it is."""
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        import pandas as pd

        return pd.DataFrame.from_records(value)
    return value


def _main_frame(kit: Any, command: _awsargs.AwsCommand, result: Mapping[str, Any]) -> Any:
    """The response's main list as a DataFrame (as ``kit.records`` builds it), else the dict."""
    import pandas as pd

    from ..aws.calls import main_list

    pagination = kit.pool.paginator_config(command.service, command.operation)
    try:
        key, items = main_list(result, pagination)
    except GeuseError:  # several lists and no paginator to choose: the dict says it all
        return result
    if key is None:
        return result
    if items and not all(isinstance(i, Mapping) for i in items):
        frame = pd.DataFrame({key: items})
    else:
        frame = pd.DataFrame.from_records(items)
    region = command.region or kit.backend.default_region
    if "region" not in frame.columns:
        frame.insert(0, "region", region)
    frame.attrs["source"] = {"service": command.service, "operation": command.snake,
                             "key": key}
    return frame


def _operation_help(tokens: Sequence[str]) -> str:
    """argparse-style help for ``%aws SERVICE --help`` or ``%aws SERVICE OPERATION --help``."""
    service = tokens[0]
    if len(tokens) < 2 or tokens[1].startswith("-"):
        ops = sorted(_awsargs.operations(service))
        return f"usage: %aws {service} OPERATION ...\n\noperations:\n  " + "\n  ".join(ops)
    op_model = _awsargs.operation_model(service, tokens[1])
    parser = argparse.ArgumentParser(
        prog=f"%aws {service} {_awsargs.kebab(op_model.name)}", add_help=False,
        description=_first_sentence(op_model.documentation))
    shape = op_model.input_shape
    required = set(shape.required_members) if shape is not None else set()
    group = parser.add_argument_group("parameters (from botocore's model)")
    for option, member in sorted(_awsargs.options_of(op_model).items()):
        kind = _awsargs.describe(shape.members[member])
        group.add_argument(option, metavar=kind.upper().replace(" ", "_"),
                           help=f"{member}{' (required)' if member in required else ''}")
    common = parser.add_argument_group("common")
    common.add_argument("--region")
    common.add_argument("--refresh", action="store_true")
    common.add_argument("--query", metavar="JMESPATH")
    return parser.format_help()


def _first_sentence(html: str) -> str:
    import re

    text = re.sub(r"<[^>]+>", "", html or "").strip()
    return text.split(". ")[0][:300]


# ---------------------------------------------------------------- completion
def _complete(context: Any) -> dict[str, Any]:
    """IPython context matcher: services, operations and options after ``%aws``."""
    from IPython.core.completer import SimpleCompletion

    line = context.line_with_cursor.lstrip()
    if not line.startswith("%aws "):
        return {"completions": [], "suppress": False}
    words = line[len("%aws "):].split(" ")
    token = words[-1]
    done = [w for w in words[:-1] if w]
    try:
        if not done:
            names: Sequence[str] = _awsargs.services()
        elif len(done) == 1:
            names = sorted(_awsargs.operations(done[0]))
        elif token.startswith("-"):
            op_model = _awsargs.operation_model(done[0], done[1])
            names = sorted([*_awsargs.options_of(op_model), *_awsargs.GLOBAL_OPTIONS])
        else:
            return {"completions": [], "suppress": False}
    except GeuseError:
        return {"completions": [], "suppress": False}
    hits = [SimpleCompletion(n, type="aws") for n in names if n.startswith(token)]
    return {"completions": hits, "suppress": bool(hits)}


def load(ipython: Any) -> None:
    """Register the magics (configurable with ``%config``) and the ``%aws`` completer."""
    magics = GeuseMagics(shell=ipython, parent=ipython)  # parent: %config and profile config
    ipython.register_magics(magics)
    if magics not in getattr(ipython, "configurables", []):
        ipython.configurables.append(magics)
    completer = getattr(ipython, "Completer", None)
    if completer is not None and hasattr(completer, "custom_matchers"):
        from IPython.core.completer import context_matcher

        matcher = context_matcher(identifier="geuse_nb.aws")(_complete)
        if not any(getattr(m, "matcher_identifier", None) == "geuse_nb.aws"
                   for m in completer.custom_matchers):
            completer.custom_matchers.append(matcher)
