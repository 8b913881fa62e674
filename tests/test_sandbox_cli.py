"""``geuse-nb sandbox start|status|stop``: a detached sandbox that notebooks share."""

from __future__ import annotations

import psutil
import pytest

from geuse_nb.face.cli import main
from geuse_nb.sandbox import Sandbox


def test_start_status_stop(capsys: pytest.CaptureFixture[str],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["sandbox", "start", "--regions", "us-east-1,eu-west-1", "--rtt", "0"]) == 0
    out = capsys.readouterr().out
    url = out.split("export GEUSE_SANDBOX_URL=")[1].strip()
    box = Sandbox.join(url)
    try:
        assert box.regions == ["us-east-1", "eu-west-1"]
        assert main(["sandbox", "status", "-v"]) == 0  # found through the state file
        assert "2 regions" in capsys.readouterr().out
        monkeypatch.setenv("GEUSE_SANDBOX_URL", url)
        assert main(["sandbox", "stop"]) == 0
        assert f"stopped sandbox pid {box.pid}" in capsys.readouterr().out
        assert not psutil.pid_exists(box.pid)
    finally:
        if psutil.pid_exists(box.pid):
            psutil.Process(box.pid).kill()
    monkeypatch.delenv("GEUSE_SANDBOX_URL")
    assert main(["sandbox", "status"]) == 1
    assert "no sandbox URL" in capsys.readouterr().err


def test_status_of_a_dead_url_is_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "status", "--url", "http://127.0.0.1:9"]) == 1
    assert "did not answer" in capsys.readouterr().err
