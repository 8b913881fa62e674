"""Runbook 01 in a real kernel: a cold run, then the whole notebook again in the same kernel
at RTT 60 ms; the warm rerun makes zero AWS requests (the sandbox's own counters). Each run
also launches with failover (the pick's pool empty), recovers an interruption and terminates
everything; the report shows the attempts table."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import netguard
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01_spot_selection.ipynb"


def _parameters(nb: nbformat.NotebookNode, **values: object) -> None:
    """Append assignments to the ``parameters`` cell, as papermill's injection would."""
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cell.source += "\n" + "\n".join(f"{k} = {v!r}" for k, v in values.items())


PROBE = ("import json; print(json.dumps({'requests': fetch_requests, 'seconds': fetch_seconds,"
         " 'rerun_seconds': rerun_seconds, 'sandbox': kit.sandbox.url,"
         " 'rows': len(hist), 'pick': rec.iloc[0]['availability_zone'],"
         " 'outcomes': run.attempts['outcome'].tolist(), 'launch_seconds': launch_seconds,"
         " 'launch_requests': launch_requests, 'recovery_seconds': recovery_seconds,"
         " 'events': events['event'].tolist(), 'gone': sorted(gone['instance_id']),"
         " 'states': sorted(set(gone['state']))}))")


def _run_all(client: NotebookClient, nb: nbformat.NotebookNode) -> dict[str, object]:
    """Every cell in order (the last one is the probe); the probe's figures."""
    for index, cell in enumerate(nb.cells):
        client.execute_cell(cell, index)
    probe = nb.cells[-1]
    text = "".join(o.get("text", "") for o in probe.outputs if o.get("name") == "stdout")
    return json.loads(text)  # type: ignore[no-any-return]


def test_cold_then_warm_run_in_one_kernel(tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    report = tmp_path / "report.html"
    _parameters(nb, instance_types=["g4dn.xlarge", "g5.xlarge", "g4dn.12xlarge"],
                regions=["us-east-1", "eu-west-1", "ap-northeast-1"], sandbox_rtt=0.06,
                report_path=str(report))
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    env = dict(os.environ, IPYTHONDIR=str(netguard.ipython_dir(tmp_path / "ipython")),
               GEUSE_CACHE_DIR=str(tmp_path / "cache"))
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    with client.setup_kernel(env=env):
        cold = _run_all(client, nb)
        warm = _run_all(client, nb)
    print(f"runbook fetch at RTT 60 ms: cold {cold['seconds']:.2f} s "
          f"({cold['requests']} requests), warm {warm['seconds'] * 1000:.1f} ms "
          f"({warm['requests']} requests)")
    assert cold["requests"] >= 9  # 3 types × 3 regions, one page each at least
    assert warm["requests"] == 0
    assert warm["sandbox"] == cold["sandbox"]  # the rerun kept its kit (and sandbox)
    assert (warm["rows"], warm["pick"]) == (cold["rows"], cold["pick"])
    print(f"runbook launch with failover: {cold['launch_seconds']:.2f} s "
          f"({cold['launch_requests']} requests), interrupt → replacement running "
          f"{cold['recovery_seconds']:.2f} s")
    for run in (cold, warm):  # the pick's pool is empty: failover, recovery, nothing left
        assert run["outcomes"][0] == "no_capacity" and len(run["outcomes"]) >= 2
        assert run["events"] == ["interrupted", "replaced"]
        assert run["states"] == ["terminated"] and len(run["gone"]) == 3  # 2 + 1 replacement
    assert set(cold["gone"]).isdisjoint(warm["gone"])  # the rerun found none of the old ones
    html = report.read_text()
    assert report.is_file() and "Launch attempts" in html and "no_capacity" in html
    assert "InsufficientInstanceCapacity" in html and "Interruption recovery" in html


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(pytest.main([__file__, "-q", "-s"]))
