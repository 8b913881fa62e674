"""The magics in a real IPython shell (``InteractiveShell``): %geuse, %aws, %%timed, %config,
every UsageError path, ``?`` help and tab completion — against the session's sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from IPython.core.completer import provisionalcompleter
from IPython.core.error import UsageError as IPyUsageError
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

import geuse_nb as gn


@pytest.fixture(scope="module")
def shell() -> InteractiveShell:
    config = Config()
    config.HistoryManager.enabled = False  # no sqlite file, no saving thread
    ip = InteractiveShell.instance(config=config)
    ip.run_line_magic("load_ext", "geuse_nb")
    return ip


@pytest.fixture()
def nb(shell: InteractiveShell, sandbox: Any, monkeypatch: pytest.MonkeyPatch
       ) -> Iterator[InteractiveShell]:
    """The shell with a default kit made by ``%geuse init`` on the session sandbox."""
    monkeypatch.setenv("GEUSE_SANDBOX_URL", sandbox.url)
    shell.run_line_magic("geuse", "init --backend sandbox --name magic-test")
    yield shell
    shell.run_line_magic("config", "GeuseMagics.frames = True")
    gn.get_kit().close()


def requests(kit: Any) -> int:
    return int(kit.sandbox.requests())


def test_load_ext_registers_a_configurable_class(shell: InteractiveShell,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    magics = shell.magics_manager.lsmagic()
    assert {"geuse", "aws"} <= set(magics["line"]) and "timed" in magics["cell"]
    shell.run_line_magic("config", "GeuseMagics")
    listed = capsys.readouterr().out
    assert "GeuseMagics.kit_name" in listed and "GeuseMagics.frames" in listed
    shell.run_line_magic("config", "GeuseMagics.kit_name = 'configured'")
    magic = next(c for c in shell.configurables if type(c).__name__ == "GeuseMagics")
    assert magic.kit_name == "configured"
    shell.run_line_magic("config", "GeuseMagics.kit_name = 'notebook'")


def test_geuse_init_status_report_cache(nb: InteractiveShell, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    kit = gn.get_kit()
    assert kit.name == "magic-test" and kit.backend.kind == "sandbox"
    nb.run_line_magic("aws", "sts get-caller-identity")
    nb.run_line_magic("geuse", "status")
    out = capsys.readouterr().out
    assert f"sandbox at {kit.backend.sandbox_url}" in out
    assert "cache: 1 lookups" in out and "pool: 1 clients, 1 requests" in out
    report = nb.run_line_magic("geuse", f"report --save {tmp_path / 'r.html'}")
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert report.to_dict()["sections"]["summary"]["data"]["api_calls"] >= 1
    stats = nb.run_line_magic("geuse", "cache stats")
    assert isinstance(stats, pd.DataFrame) and "hit_rate" in stats.columns
    nb.run_line_magic("geuse", "cache clear memory")
    assert "cache cleared: memory" in capsys.readouterr().out
    before = requests(kit)
    nb.run_line_magic("aws", "ec2 describe-regions")
    nb.run_line_magic("geuse", "cache clear all")
    nb.run_line_magic("aws", "ec2 describe-regions")
    assert requests(kit) == before + 2  # cleared: the second read went to the sandbox


@pytest.mark.parametrize("line", [
    "ec2 describe-availability-zones --region eu-west-1",
    "ec2 describe-spot-price-history --instance-types g4dn.xlarge --region us-east-1",
])
def test_aws_returns_frames_and_the_same_line_is_a_cache_hit(nb: InteractiveShell,
                                                             line: str) -> None:
    kit = gn.get_kit()
    first = nb.run_line_magic("aws", line)
    assert isinstance(first, pd.DataFrame) and len(first) > 0
    sent = requests(kit)
    again = nb.run_line_magic("aws", line)
    assert requests(kit) == sent, "the same line went to the sandbox again"
    assert kit.metrics.frame("api_calls")["cache_hit"].iloc[-1]
    pd.testing.assert_frame_equal(first, again)
    fresh = nb.run_line_magic("aws", line + " --refresh")
    assert requests(kit) > sent and len(fresh) == len(first)


def test_aws_matches_kit_records_query_and_dicts(nb: InteractiveShell) -> None:
    kit = gn.get_kit()
    zones = nb.run_line_magic("aws", "ec2 describe-availability-zones --region eu-west-1")
    same = kit.records("ec2", "describe_availability_zones", "eu-west-1")
    assert zones["ZoneName"].tolist() == same["ZoneName"].tolist()
    assert set(zones["region"]) == {"eu-west-1"}
    names = nb.run_line_magic(
        "aws", "ec2 describe-availability-zones --region eu-west-1 "
               "--query 'AvailabilityZones[].ZoneName'")
    assert names == zones["ZoneName"].tolist()
    ident = nb.run_line_magic("aws", "sts get-caller-identity")
    assert isinstance(ident, dict) and ident["Account"] == "123456789012"  # no main list
    filtered = nb.run_line_magic(
        "aws", "ec2 describe-availability-zones --region eu-west-1 "
               f"--filters Name=zone-name,Values={names[0]},{names[1]}")
    assert sorted(filtered["ZoneName"]) == sorted(names[:2])
    nb.run_line_magic("config", "GeuseMagics.frames = False")
    raw = nb.run_line_magic("aws", "ec2 describe-availability-zones --region eu-west-1")
    assert isinstance(raw, dict) and "AvailabilityZones" in raw


def test_timed_records_the_cell(nb: InteractiveShell,
                                capsys: pytest.CaptureFixture[str]) -> None:
    kit = gn.get_kit()
    nb.run_cell_magic("timed", "load zones --category setup",
                      "zones_n = len(kit_zones())")  # NameError: recorded as failed
    nb.user_ns["kit_zones"] = lambda: [1, 2, 3]
    nb.run_cell_magic("timed", "load zones --category setup", "zones_n = len(kit_zones())")
    assert nb.user_ns["zones_n"] == 3
    ops = kit.metrics.frame("operations")
    rows = ops[ops["name"] == "load zones"]
    assert rows["category"].tolist() == ["setup", "setup"]
    assert rows["ok"].tolist() == [False, True]
    assert "NameError" in rows["error"].iloc[0]
    assert "load zones:" in capsys.readouterr().out


@pytest.mark.parametrize(("cell", "message"), [
    ("%geuse stauts", "%geuse has no command 'stauts' (did you mean 'status'?)"),
    ("%geuse cache wipe", "invalid choice: 'wipe'"),
    ("%geuse init --backend cloud", "invalid choice: 'cloud'"),
    ("%aws ec3 describe-regions", "AWS has no service 'ec3' (did you mean"),
    ("%aws ec2 describe-instance", "(did you mean 'describe-instances'"),
    ("%aws ec2 describe-instances --instance-id i-1", "(did you mean '--instance-ids'?)"),
    ("%aws ec2 describe-regions --region eu-wst-1", "(did you mean 'eu-west-1'"),
    ("%aws ec2 describe-instances --filters 'Name=a", "No closing quotation"),
    ("%%timed\n1", "the following arguments are required: NAME"),
])
def test_bad_input_is_one_line_without_traceback(nb: InteractiveShell, cell: str,
                                                 message: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    result = nb.run_cell(cell, store_history=False)
    assert isinstance(result.error_in_exec, IPyUsageError), result.error_in_exec
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


def test_question_mark_shows_argparse_help(shell: InteractiveShell,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    for magic, words in (("%aws?", ["usage: %aws SERVICE OPERATION", "--query JMESPATH"]),
                         ("%geuse?", ["usage: %geuse", "init", "status", "report", "cache"]),
                         ("%%timed?", ["usage: %%timed", "--category"])):
        shell.run_cell(magic, store_history=False)
        out = capsys.readouterr().out
        assert all(w in out for w in words), (magic, out[:400])
    shell.run_line_magic("aws", "ec2 describe-instances --help")
    out = capsys.readouterr().out
    assert "--instance-ids LIST_OF_STRING" in out and "--dry-run BOOLEAN" in out


@pytest.mark.parametrize(("typed", "expected"), [
    ("%aws clo", "cloudformation"),
    ("%aws ec2 describe-av", "describe-availability-zones"),
    ("%aws ec2 describe-instances --inst", "--instance-ids"),
    ("%aws ec2 describe-instances --que", "--query"),
])
def test_tab_completion(shell: InteractiveShell, typed: str, expected: str) -> None:
    with provisionalcompleter():
        found = [c.text for c in shell.Completer.completions(typed, len(typed))]
    assert expected in found, found[:10]


# ---------------------------------------------------------------- found as a new user
def test_a_kit_closed_by_a_second_init_says_so(sandbox: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEUSE_SANDBOX_URL", sandbox.url)
    first = gn.init("first", backend="sandbox")
    second = gn.init("second", backend="sandbox")
    try:
        for use in (lambda: first.call("sts", "get_caller_identity"),
                    lambda: first.records("ec2", "describe_regions"),
                    lambda: first.fanout("ec2", "describe_regions", ["us-east-1"])):
            with pytest.raises(gn.UsageError, match=r"this kit \('first'\) is closed"):
                use()
        assert second.call("sts", "get_caller_identity")["Account"] == "123456789012"
    finally:
        second.close()


def test_describe_regions_lists_only_served_regions(kit: Any) -> None:
    listed = set(kit.records("ec2", "describe_regions")["RegionName"])
    assert listed == set(kit.sandbox.regions)
    every = kit.fanout("ec2", "describe_availability_zones", sorted(listed))
    assert every.attrs["failed"] == []


def test_long_failure_summaries_are_folded() -> None:
    from geuse_nb.aws.fanout import fold_failures

    failed = [{"region": f"r{i}", "error": "AuthFailure: " + "x" * 3000} for i in range(21)]
    line = fold_failures(failed)
    assert len(line) < 200 and "+18 more" in line
