"""Bad input, one table: public functions, magics and CLI subcommands given wrong types,
empty lists, unknown regions/services/operations/instance types/settings/kinds. Each row
names the call and the pattern its error message must contain (the input it names, and
the closest valid name where one exists); the error type is the documented one
(``UsageError``/``ConfigError`` in Python, IPython's one-line ``UsageError`` from a magic,
exit code ≠ 0 and a one-line message from the CLI). Nothing is sent for any of them."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from reliability_figures import add_figure

import geuse_nb as gn
from geuse_nb.errors import ConfigError, UsageError
from geuse_nb.ops import rollout, spot


class CliFailed(Exception):
    """A CLI row: the exit code was not 0; the message is what it printed."""


@dataclass
class Ctx:
    kit: Any
    shell: Any

    def magic(self, name: str, line: str, cell: str | None = None) -> Any:
        if cell is None:
            return self.shell.run_line_magic(name, line)
        return self.shell.run_cell_magic(name, line, cell)

    def cli(self, *argv: str) -> None:
        from geuse_nb.face.cli import main

        err, out = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                code = main(list(argv))
            except SystemExit as exc:  # argparse's own errors
                code = exc.code if isinstance(exc.code, int) else 2
        if code != 0:
            raise CliFailed(err.getvalue() + out.getvalue())


def _ipy_usage() -> type[BaseException]:
    from IPython.core.error import UsageError as IPyUsageError

    return IPyUsageError


USAGE = (UsageError,)
CONFIG = (ConfigError, UsageError)
MAGIC = "magic"  # resolved to IPython's UsageError at run time
CLI = (CliFailed,)

CASES: list[tuple[str, Callable[[Ctx], Any], Any, str]] = [
    # ---- kit.call / records
    ("call unknown service", lambda c: c.kit.call("ec3", "describe_regions"), USAGE,
     r"ec3.*ec2"),
    ("call unknown operation", lambda c: c.kit.call("ec2", "describe_regionz"), USAGE,
     r"describe_regionz.*describe_regions"),
    ("call unknown region", lambda c: c.kit.call("ec2", "describe_regions", "eu-west-9"),
     USAGE, r"eu-west-9"),
    ("call unknown parameter", lambda c: c.kit.call("ec2", "describe_regions", Bogus=1),
     USAGE, r"Bogus"),
    ("call service not a string", lambda c: c.kit.call(123, "describe_regions"), USAGE,
     r"123"),
    ("call parameter of wrong type",
     lambda c: c.kit.call("ec2", "describe_instances", InstanceIds="i-1"), USAGE,
     r"describe_instances"),
    ("records unknown operation", lambda c: c.kit.records("ec2", "list_everything"), USAGE,
     r"list_everything"),
    # ---- fanout / warm
    ("fanout unknown region", lambda c: c.kit.fanout("ec2", "describe_regions",
                                                     ["us-east-1", "mars-1"]), USAGE,
     r"mars-1"),
    ("fanout unknown operation", lambda c: c.kit.fanout("ec2", "describe_regionz",
                                                        ["us-east-1"]), USAGE,
     r"describe_regionz"),
    ("fanout empty region list", lambda c: c.kit.fanout("ec2", "describe_regions", []),
     USAGE, r"(?i)region"),
    ("warm bad call spec", lambda c: c.kit.warm([("ec2",)]), USAGE, r"(?i)ec2|operation"),
    ("warm not a list", lambda c: c.kit.warm(42), USAGE, r"42|int"),
    # ---- pmap / jobs / cached
    ("pmap fn not callable", lambda c: c.kit.pmap(42, [1]), USAGE, r"42"),
    ("pmap items not a collection", lambda c: c.kit.pmap(str, 5), USAGE, r"int"),
    ("pmap unknown backend", lambda c: c.kit.pmap(str, [1], backend="threadz"), USAGE,
     r"threadz.*threads"),
    ("pmap n_jobs zero", lambda c: c.kit.pmap(str, [1], n_jobs=0), USAGE, r"n_jobs"),
    ("pmap retries negative", lambda c: c.kit.pmap(str, [1], retries=-1), USAGE,
     r"retries"),
    ("jobs cycle", lambda c: c.kit.jobs({"a": (str, ["b"]), "b": (str, ["a"])}), USAGE,
     r"(?i)cycle"),
    ("jobs unknown dependency", lambda c: c.kit.jobs({"a": (str, ["zz"])}), USAGE, r"zz"),
    ("cached not callable", lambda c: c.kit.cached(42), USAGE, r"42"),
    ("cached ignore unknown argument",
     lambda c: c.kit.cached(lambda x: x, ignore=("y",)), USAGE, r"'y'|\by\b"),
    # ---- settings / kinds / metrics / cache / report
    ("unknown setting", lambda c: gn.Kit("bad", backend="sandbox", sandbox=c.kit.sandbox,
                                         cache_ttl_defualt=1), CONFIG, r"cache_ttl_defualt"),
    ("setting of wrong type", lambda c: gn.Kit("bad", backend="sandbox",
                                               sandbox=c.kit.sandbox, pool_max_attempts="x"),
     CONFIG, r"pool_max_attempts"),
    ("setting out of range", lambda c: gn.Kit("bad", backend="sandbox",
                                              sandbox=c.kit.sandbox, pool_max_attempts=0),
     CONFIG, r"pool_max_attempts"),
    ("unknown backend", lambda c: gn.Kit("bad", backend="asw"), CONFIG, r"asw"),
    ("configure unknown setting", lambda c: gn.configure(paralel_max_workers=2), CONFIG,
     r"paralel_max_workers"),
    ("unknown kind in settings", lambda c: gn.Kit("bad", backend="sandbox",
                                                  sandbox=c.kit.sandbox,
                                                  cache_kind_ttls={"regionz": 5}),
     CONFIG, r"regionz"),
    ("unknown metrics table", lambda c: c.kit.metrics.frame("api_callz"), USAGE,
     r"api_callz"),
    ("unknown cache tier", lambda c: c.kit.cache.clear("dsk"), USAGE, r"dsk"),
    ("report unknown suffix", lambda c: c.kit.report().save("r.pdf"), USAGE, r"r\.pdf"),
    ("report unknown section", lambda c: c.kit.report().section("regionz"), USAGE,
     r"regionz"),
    # ---- spot
    ("spot no instance types", lambda c: spot.history(c.kit, []), USAGE, r"(?i)type"),
    ("spot unknown instance type", lambda c: spot.history(c.kit, ["m5.hugge"]), USAGE,
     r"m5\.hugge"),
    ("spot unknown region", lambda c: spot.history(c.kit, ["m5.large"], ["mars-1"]), USAGE,
     r"mars-1"),
    ("spot days zero", lambda c: spot.history(c.kit, ["m5.large"], days=0), USAGE,
     r"days"),
    ("spot instance types wrong type", lambda c: spot.history(c.kit, 42), USAGE, r"42"),
    # ---- rollout
    ("rollout plan no regions", lambda c: rollout.plan([]), USAGE, r"(?i)region"),
    ("rollout plan unknown region", lambda c: rollout.plan(["us-east-1", "eu-wset-1"]),
     USAGE, r"eu-wset-1"),
    ("rollout tolerance too large", lambda c: rollout.plan(["us-east-1"],
                                                           failure_tolerance=5), USAGE,
     r"(?i)toleran"),
    ("rollout unknown mode", lambda c: rollout.plan(["us-east-1"], mode="lax"), USAGE,
     r"lax"),
    ("rollout run without a plan", lambda c: rollout.run(c.kit, "plan",
                                                        rollout.template_path(),
                                                        stack_name="x"), USAGE,
     r"(?i)plan"),
    # ---- magics
    ("%aws unknown service", lambda c: c.magic("aws", "ec3 describe-regions"), MAGIC,
     r"ec3"),
    ("%aws unknown operation", lambda c: c.magic("aws", "ec2 describe-regionz"), MAGIC,
     r"describe-regionz"),
    ("%aws unknown option", lambda c: c.magic("aws", "ec2 describe-regions --bogus 1"),
     MAGIC, r"--bogus"),
    ("%aws unknown region", lambda c: c.magic("aws", "ec2 describe-regions --region mars-1"),
     MAGIC, r"mars-1"),
    ("%aws no operation", lambda c: c.magic("aws", "ec2"), MAGIC, r"(?i)operation"),
    ("%geuse unknown subcommand", lambda c: c.magic("geuse", "statsu"), MAGIC, r"statsu"),
    ("%geuse init unknown backend", lambda c: c.magic("geuse", "init --backend nope"),
     MAGIC, r"nope"),
    ("%%timed no name", lambda c: c.magic("timed", "", "x = 1"), MAGIC, r"(?i)name"),
    # ---- CLI
    ("cli unknown command", lambda c: c.cli("raport"), CLI, r"raport"),
    ("cli report missing notebook", lambda c: c.cli("report", "nowhere.ipynb"), CLI,
     r"nowhere\.ipynb"),
    ("cli run missing notebook", lambda c: c.cli("run", "nowhere.ipynb"), CLI,
     r"nowhere\.ipynb"),
    ("cli cache clear unknown tier", lambda c: c.cli("cache", "clear", "dsk"), CLI, r"dsk"),
    ("cli compare not json", lambda c: c.cli("report", "--compare", "a.txt", "b.txt"), CLI,
     r"a\.txt"),
]


@pytest.fixture(scope="module")
def shell() -> Any:
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    ip = InteractiveShell.instance(config=config)
    ip.run_line_magic("load_ext", "geuse_nb")
    return ip


@pytest.fixture()
def ctx(kit: Any, shell: Any, box: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ctx]:
    monkeypatch.setenv("GEUSE_SANDBOX_URL", box.url)
    shell.run_line_magic("geuse", "init --backend sandbox --name bad-input")
    try:
        yield Ctx(kit, shell)
    finally:
        gn.get_kit().close()


@pytest.mark.parametrize(("call", "expected", "pattern"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_input(ctx: Ctx, box: Any, call: Callable[[Ctx], Any], expected: Any,
                   pattern: str) -> None:
    types = (_ipy_usage(),) if expected == MAGIC else expected
    before = box.requests()
    with pytest.raises(types) as caught:
        call(ctx)
    message = str(caught.value)
    assert re.search(pattern, message, re.S), message
    suggestion = getattr(caught.value, "suggestion", None)
    if isinstance(caught.value, UsageError):
        assert suggestion, f"no suggestion (what to do next) for: {message}"
    assert box.requests() == before, "bad input must not send anything"
    add_figure("bad_input_cases", 1)
