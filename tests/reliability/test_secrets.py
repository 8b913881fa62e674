"""Secrets: with canary credentials in the environment, nothing the kit writes holds them.

An aws-backend kit reads the canary through botocore's real credential chain (the
environment) and is pointed at a running sandbox with ``AWS_ENDPOINT_URL`` (botocore
honours it), so every request is signed with the canary. It runs a fan-out, a spot
history and a report; each runbook (notebooks/0*_*.ipynb) runs on the sandbox with
canary credentials in its environment (the session's one ``geuse-nb demo``,
tests/runbook_runs.py). Every cache file, metrics table, EMF line, log line
(``geuse_nb`` loggers at DEBUG, every logger at WARNING+), executed notebook and HTML
page is scanned for the canary (raw bytes; the disk tier's compression is off so a value
cannot hide it). Then ``report(redact=True)`` and ``geuse-nb report --redact``.
"""

from __future__ import annotations

import logging
import secrets
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
import runbook_runs
from reliability_figures import add_figure

from geuse_nb.ops import rollout, spot

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = sorted((ROOT / "notebooks").glob("0*_*.ipynb"))
_ALNUM = string.ascii_uppercase + string.digits


def _canary() -> tuple[str, str]:
    key = "AKIA" + "CANARY" + "".join(secrets.choice(_ALNUM) for _ in range(10))
    secret = "canarySecret" + secrets.token_hex(14)
    return key, secret


class _Lines(logging.Handler):
    """Every formatted line: geuse_nb's at any level, everyone else's at WARNING+."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("geuse_nb") or record.levelno >= logging.WARNING:
            self.lines.append(self.format(record))


@pytest.fixture()
def canary_env(box: Any, monkeypatch: pytest.MonkeyPatch,
               tmp_path: Path) -> Iterator[tuple[str, str]]:
    key, secret = _canary()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_ENDPOINT_URL", box.endpoint_url("us-east-1"))
    monkeypatch.setenv("GEUSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GEUSE_CACHE_COMPRESSION_ENABLED", "false")
    yield key, secret


class Scan:
    """Counts what was scanned; remembers where a canary was found."""

    def __init__(self, canaries: tuple[str, ...]) -> None:
        self.needles = [c.encode() for c in canaries]
        self.scanned = 0
        self.hits: list[str] = []

    def text(self, what: str, data: str | bytes) -> None:
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        self.scanned += 1
        self.hits += [what for n in self.needles if n in raw]

    def tree(self, root: Path) -> None:
        files = [p for p in root.rglob("*") if p.is_file()]
        assert files, f"nothing was written under {root}"
        for path in files:
            self.text(str(path), path.read_bytes())


def test_aws_backend_kit_with_canary_credentials_leaks_nothing(
        canary_env: tuple[str, str], box: Any, tmp_path: Path) -> None:
    import geuse_nb as gn
    from geuse_nb.config import debug_logging

    key, secret = canary_env
    control = Scan(canary_env)  # the scan finds a canary where one is
    control.text("control", f"Authorization: Credential={key}/x; secret={secret}")
    assert control.hits == ["control", "control"]
    scan = Scan(canary_env)
    lines = _Lines()
    logging.getLogger().addHandler(lines)
    try:
        with gn.Kit("canary", backend="aws", debug=True) as kit:
            assert kit.backend.kind == "aws"
            creds = kit.pool.client("ec2", "us-east-1")._request_signer._credentials
            assert creds.access_key == key  # signed with the canary, through botocore's chain
            frame = kit.fanout("ec2", "describe_availability_zones",
                               ["us-east-1", "eu-west-1", "us-west-2"])
            assert len(frame) and frame.attrs["failed"] == []
            hist = spot.history(kit, ["m5.large"], ["us-east-1"], days=1)
            assert len(hist) and hist.attrs["failed"] == []
            rep = kit.report("canary")
            for suffix in (".html", ".json", ".md"):
                rep.save(tmp_path / f"report{suffix}")
            for table in ("api_calls", "operations", "counters", "gauges", "resources",
                          "jobs"):
                scan.text(f"metrics {table}", kit.metrics.frame(table).to_csv())
            scan.text("emf", "\n".join(kit.metrics.to_emf()))
            scan.text("inline report", rep._repr_html_())
            assert box.requests() > 0  # the sandbox answered the canary-signed requests
    finally:
        logging.getLogger().removeHandler(lines)
        debug_logging(False)  # a kit turns DEBUG on for the process; later tests need it off
    assert lines.lines, "DEBUG logging was on: there were lines to scan"
    scan.text("log lines", "\n".join(lines.lines))
    scan.tree(tmp_path / "cache")
    for suffix in (".html", ".json", ".md"):
        scan.text(f"report{suffix}", (tmp_path / f"report{suffix}").read_bytes())
    assert scan.hits == []
    add_figure("files_scanned_for_canary", scan.scanned)
    add_figure("canary_hits", len(scan.hits))


@pytest.mark.slow
@pytest.mark.parametrize("runbook", RUNBOOKS, ids=[p.stem for p in RUNBOOKS])
def test_runbook_with_canary_environment_leaks_nothing(
        demo_run: runbook_runs.DemoRun, runbook: Path) -> None:
    """The session's one demo ran every runbook with canary credentials in its
    environment (tests/runbook_runs.py): its executed notebook, offline page, performance
    report and the cache it wrote hold no canary."""
    assert demo_run.returncode == 0, demo_run.stdout[-3000:]
    scan = Scan(demo_run.canaries)
    control = Scan(demo_run.canaries)  # the scan finds the canary where it is
    control.text("control", demo_run.canaries[0])
    assert control.hits == ["control"]
    executed = nbformat.read(demo_run.out / runbook.name, as_version=4)
    assert any(c.get("outputs") for c in executed.cells)
    written = sorted(demo_run.out.glob(f"{runbook.stem}.*"))
    assert {p.suffix for p in written} >= {".ipynb", ".html"}, written
    assert (demo_run.out / f"{runbook.stem}.report.html").is_file()
    for path in written:
        scan.text(str(path), path.read_bytes())
    scan.tree(demo_run.cache)
    assert scan.hits == []
    add_figure("files_scanned_for_canary", scan.scanned)
    add_figure("canary_hits", len(scan.hits))


# ---------------------------------------------------------------- redaction
ACCOUNT = "123456789012"  # moto's account id: in every ARN the sandbox returns


def test_report_redact_masks_account_ids_arns_and_key_ids(kit: Any, box: Any,
                                                          tmp_path: Path) -> None:
    name = "red-" + secrets.token_hex(4)
    result = rollout.run(kit, rollout.plan(["us-east-1"]), rollout.template_path(),
                         stack_name=name, apply=True)
    arn = str(result.frame()["stack_id"].iloc[0])
    assert arn.startswith("arn:aws:cloudformation:") and ACCOUNT in arn
    key = "AKIA" + "".join(secrets.choice(_ALNUM) for _ in range(16))
    for redact in (False, True):
        rep = kit.report("redact", redact=redact)
        rep.add_section("stacks", result.frame(), note=f"deployed with {key}")
        for suffix in (".html", ".md", ".json"):
            text = rep.save(tmp_path / f"r{int(redact)}{suffix}").read_text()
            found = [s for s in (ACCOUNT, arn, key) if s in text]
            if redact:
                assert found == [], (suffix, found)
                assert "arn:aws:cloudformation:us-east-1:************:*" in text
                assert "AKIA" + "*" * 16 in text
            else:
                assert found == [ACCOUNT, arn, key], suffix  # the test can fail
        assert (ACCOUNT in rep._repr_html_()) is not redact


def test_cli_report_redact(tmp_path: Path) -> None:
    from geuse_nb.face.cli import main

    key = "ASIA" + "".join(secrets.choice(_ALNUM) for _ in range(16))
    arn = f"arn:aws:iam::{ACCOUNT}:role/deployer"
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print('...')")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                           text=f"{arn} used {key} in {ACCOUNT}\n")]
    nb.cells.append(cell)
    path = tmp_path / "shared.ipynb"
    nbformat.write(nb, path)
    assert main(["report", str(path), "--out", str(tmp_path / "plain.html")]) == 0
    assert main(["report", str(path), "--out", str(tmp_path / "masked.html"),
                 "--redact"]) == 0
    plain = (tmp_path / "plain.html").read_text()
    masked = (tmp_path / "masked.html").read_text()
    assert key in plain and ACCOUNT in plain
    assert key not in masked and ACCOUNT not in masked and "role/deployer" not in masked
    assert "arn:aws:iam::************:*" in masked
