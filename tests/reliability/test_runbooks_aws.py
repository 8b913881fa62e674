"""Runbooks 00–02 and 04 on the ``aws`` backend: botocore's real credential chain (a profile in
AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE) and its own endpoint resolution
(AWS_ENDPOINT_URL, pointed at the session sandbox), as a user's first day on AWS.

The throwaway keys and the leak scan are the canary test's (``test_secrets``): the
executed notebooks and the cache must not hold them. Each runbook runs with its quickest
parameters (two regions, one instance type, a day of history). A ``credential_process``
profile is checked on a kit in this process (botocore runs the helper, the sandbox
answers requests signed with what it printed).
"""

from __future__ import annotations

import json
import re
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import netguard
import pytest
from test_secrets import ROOT, Scan, _canary

PROFILE = "runbooks"
REGIONS = ["us-east-1", "eu-west-1"]
RUNBOOKS: dict[str, dict[str, Any]] = {
    "quickstart": {"regions": REGIONS, "hours": 1, "instance_types": ["m5.large"]},
    "01_spot_selection": {"regions": REGIONS, "days": 1, "instance_types": ["g4dn.xlarge"],
                          "fallbacks": 1},
    "02_multi_region_rollout": {"regions": REGIONS, "max_concurrent": 2},
    # on AWS the inventory reads the accounts it is given (nothing is planted there)
    "04_account_inventory": {"regions": REGIONS, "accounts": ["111111111111", "222222222222"]},
}


def _aws_files(tmp_path: Path, config: str, credentials: str = "") -> Path:
    folder = tmp_path / "aws"
    folder.mkdir()
    (folder / "config").write_text(config)
    (folder / "credentials").write_text(credentials)
    return folder


@pytest.fixture()
def aws_env(box: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No keys in the environment: the profile, AWS_ENDPOINT_URL and a kernel guard."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_PROFILE", PROFILE)
    monkeypatch.setenv("AWS_ENDPOINT_URL", box.endpoint_url("us-east-1"))
    monkeypatch.setenv("GEUSE_CACHE_COMPRESSION_ENABLED", "false")  # the scan reads raw bytes
    monkeypatch.setenv("IPYTHONDIR", str(netguard.ipython_dir(tmp_path / "ipython")))
    yield tmp_path


def _use(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(folder / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(folder / "credentials"))


@pytest.mark.parametrize("runbook", list(RUNBOOKS))
def test_runbook_on_the_aws_backend_through_a_profile(
        aws_env: Path, box: Any, monkeypatch: pytest.MonkeyPatch, runbook: str) -> None:
    import papermill

    tmp_path = aws_env
    key, secret = _canary()
    _use(_aws_files(tmp_path, f"[profile {PROFILE}]\nregion = us-east-1\n",
                    f"[{PROFILE}]\naws_access_key_id = {key}\n"
                    f"aws_secret_access_key = {secret}\n"), monkeypatch)
    params = dict(RUNBOOKS[runbook], backend="aws",
                  report_path=str(tmp_path / "out" / "report.html"))
    if runbook.startswith("02"):
        params["stack_name"] = "aws-runbook-" + secrets.token_hex(3)  # the shared sandbox
    out = tmp_path / "out" / f"{runbook}.ipynb"
    out.parent.mkdir()
    papermill.execute_notebook(str(ROOT / "notebooks" / f"{runbook}.ipynb"), str(out),
                               kernel_name="python3", parameters=params, cwd=str(tmp_path),
                               progress_bar=False, log_output=False)
    executed = nbformat.read(out, as_version=4)
    shown = "".join(json.dumps(c.get("outputs", [])) for c in executed.cells)
    assert re.search(r"<geuse_nb\.Kit '[^']+' aws>", shown), "the kit is not on aws"
    assert box.requests() > 0  # the sandbox answered, through botocore's endpoint resolution
    scan = Scan((key, secret))
    scan.tree(tmp_path / "out")
    assert scan.hits == []


def test_credential_process_profile_signs_requests(
        aws_env: Path, box: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import geuse_nb as gn

    key, secret = _canary()
    helper = aws_env / "print_credentials.py"
    helper.write_text("import json\nprint(json.dumps({'Version': 1, "
                      f"'AccessKeyId': {key!r}, 'SecretAccessKey': {secret!r}}}))\n")
    _use(_aws_files(aws_env, f"[profile {PROFILE}]\nregion = eu-west-1\n"
                             f"credential_process = {sys.executable} {helper}\n"), monkeypatch)
    with gn.Kit("credential-process", backend="aws") as kit:
        assert kit.backend.kind == "aws"
        zones = kit.records("ec2", "describe_availability_zones", "eu-west-1")
        assert set(zones["region"]) == {"eu-west-1"} and len(zones) >= 3
        creds = kit.pool.client("ec2", "eu-west-1")._request_signer._credentials
        assert creds.access_key == key  # what the helper printed, through botocore's chain
        assert kit.call("sts", "get_caller_identity")["Account"] == "123456789012"
    assert box.requests() >= 2
