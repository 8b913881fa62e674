"""The benchmark suite: ``geuse-nb bench --quick`` runs every scenario and reports its
ratios (a real sandbox, a real dask cluster, in a child process), and the suite's parts
(alternation, ratios, tables, the HTML report) behave as documented. Speed targets are the
suite's own output, never asserted here."""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geuse_nb.errors import UsageError
from geuse_nb.face import bench
from geuse_nb.face.bench._core import (
    Measure,
    Ratio,
    ScenarioResult,
    alternate,
    check_names,
    interleaved_calls,
    median_interval,
    paired,
)
from geuse_nb.face.bench._suite import SuiteResult, machine
from geuse_nb.face.bench._text import table


def test_quick_suite_runs_every_scenario_and_reports_its_ratios(tmp_path: Path) -> None:
    out_json, out_html = tmp_path / "bench.json", tmp_path / "bench.html"
    done = subprocess.run(
        [sys.executable, "-m", "geuse_nb.face.cli", "bench", "--quick", "--rtt", "0.02",
         "--json", str(out_json), "--html", str(out_html)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    got = json.loads(out_json.read_text())
    assert [s["key"] for s in got["scenarios"]] == list(bench.NAMES)
    assert got["ok"] and got["machine"]["nproc"] >= 1
    page = out_html.read_text()
    for scenario in got["scenarios"]:
        assert scenario["error"] is None, scenario
        ran = [m for m in scenario["measures"] if not m["reference"]]
        assert ran and all(m["rounds"] >= 1 and m["median_s"] > 0 for m in ran), scenario
        assert scenario["ratios"], f"{scenario['key']} reports no ratio"
        for ratio in scenario["ratios"]:
            assert ratio["value"] is not None and math.isfinite(ratio["value"]), ratio
            if ratio["target"]:
                assert ratio["met"] in (True, False)
        assert scenario["title"] in page and scenario["title"] in done.stdout
    assert page.count("<img") == len(got["scenarios"])  # one plot per scenario
    assert "targets met" in done.stdout


def test_contenders_alternate_and_slow_ones_are_capped() -> None:
    calls: list[str] = []
    measures = alternate({"a": lambda: calls.append("a"), "b": lambda: calls.append("b"),
                          "slow": lambda: calls.append("slow")}, 3,
                         before={"b": lambda: calls.append("b-before")},
                         rounds_of={"slow": 1})
    assert calls == ["a", "b-before", "b", "slow", "a", "b-before", "b", "a", "b-before", "b"]
    rounds = {m.contender: len(m.seconds) for m in measures}
    assert rounds == {"a": 3, "b": 3, "slow": 1}
    assert all(len(m.cpu) == len(m.seconds) for m in measures)


def test_mirrored_rounds_reverse_every_other_order() -> None:
    calls: list[str] = []
    alternate({"a": lambda: calls.append("a"), "b": lambda: calls.append("b"),
               "c": lambda: calls.append("c")}, 3, rounds_of={"c": 2}, mirrored=True)
    assert calls == ["a", "b", "c", "c", "b", "a", "a", "b"]


def test_paired_ratios_follow_each_round_not_the_drift() -> None:
    """Rounds that drift (the machine twice as slow in one): each round's own ratio is
    0.5; the ratio of the two medians would read 1.11."""
    kit, bare = Measure("kit", [1.0, 10.0, 10.0], [1.0, 10.0, 10.0]), Measure(
        "bare", [2.0, 20.0, 9.0], [2.0, 20.0, 9.0])
    assert paired(kit, bare) == 0.5 and paired(kit, bare, cpu=True) == 0.5
    assert kit.median / bare.median > 1.1


def test_median_interval_is_the_binomial_order_statistics() -> None:
    """Coverage 1 - 2·P(Binomial(n, ½) ≤ k-1) ≥ 90 %: for 30 rounds the 11th to the 20th
    (0.901), for 15 the 4th to the 12th (the 5th would give 0.88), min-max for 5; the
    order of the rounds does not matter."""
    rounds = [float(i) for i in range(1, 31)]
    assert median_interval(rounds[::-1]) == (11.0, 20.0)
    assert median_interval(rounds[:15]) == (4.0, 12.0)
    assert median_interval(rounds[:5]) == (1.0, 5.0)
    assert median_interval(rounds, 0.5) == (13.0, 18.0)
    assert all(math.isnan(x) for x in median_interval([]))
    with pytest.raises(UsageError, match=r"confidence=1\.5"):
        median_interval(rounds, 1.5)


@given(st.lists(st.floats(0.5, 2.0), min_size=1, max_size=60),
       st.floats(0.05, 0.99))
def test_median_interval_holds_the_median(values: list[float], confidence: float) -> None:
    low, high = median_interval(values, confidence)
    assert min(values) <= low <= statistics.median(values) <= high <= max(values)


def _burn(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_interleaved_calls_alternate_and_charge_other_threads_to_their_own() -> None:
    """Calls alternate one by one (A B, B A, …); CPU spent on any other thread in a round
    (here 20 ms burnt by a thread the first contender starts) is the first contender's."""
    import threading

    order: list[str] = []

    def own() -> None:
        order.append("own")
        if len(order) == 1:
            worker = threading.Thread(target=_burn, args=(0.02,))
            worker.start()
            worker.join()

    def bare() -> None:
        order.append("bare")

    measures = interleaved_calls(own, bare, 3, 1, names=("own", "bare"))
    assert order == ["own", "bare", "bare", "own", "own", "bare"]
    charged, plain = measures
    assert (charged.contender, plain.contender) == ("own", "bare")
    assert charged.cpu[0] >= 0.02 > plain.cpu[0]
    assert len(charged.seconds) == len(plain.seconds) == 1


def test_ratios_judge_their_targets() -> None:
    assert Ratio("x", 12.0, ">=", 10).met is True
    assert Ratio("x", 1.2, "<=", 1.1).met is False
    assert Ratio("x", math.nan, ">=", 1).met is False
    assert Ratio("x", 3.0).met is None and Ratio("x", 3.0).target_text == ""
    m = Measure("a", [3.0, 1.0, 2.0])
    assert (m.median, m.low, m.high) == (2.0, 1.0, 3.0)


def test_an_unknown_scenario_names_the_closest(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UsageError, match=r"fanot.*did you mean 'fanout'") as info:
        check_names(["fanot"], list(bench.NAMES))
    assert "scale" in (info.value.suggestion or "")
    from geuse_nb.face.cli import main

    assert main(["bench", "fanot", "--quick"]) == 1  # before any sandbox starts
    assert "did you mean 'fanout'" in capsys.readouterr().err


def _suite() -> SuiteResult:
    fan = ScenarioResult("fanout", "1 · Fan-out", params={"calls": 64}, measures=[
        Measure("expert", [0.30, 0.32]), Measure("kit cold", [0.29, 0.31], [0.1, 0.1]),
        Measure("limit", [0.24], reference=True)],
        ratios=[Ratio("kit cold / expert", 0.97, "<=", 1.1),
                Ratio("naive / kit warm", 80.0, ">=", 100)])
    scale = ScenarioResult("scale", "8 · Scale", measures=[Measure("4 calls", [0.1]),
                                                             Measure("16 calls", [0.11])],
                           ratios=[Ratio("R²", 0.99, ">=", 0.9)],
                           plot={"kind": "scale", "calls": [4, 16], "waves": [1, 1],
                                 "wall": [0.1, 0.11], "low": [0.1, 0.11],
                                 "high": [0.1, 0.11], "slope": 0.0, "intercept": 0.105})
    broken = ScenarioResult("dask", "9 · Dask", error="RuntimeError: no cluster")
    params: dict[str, Any] = {"rtt_s": 0.06, "workers": 16, "rounds": 2, "quick": True}
    return SuiteResult([fan, scale, broken], params, machine(), 1.0)


def test_tables_and_report_show_each_verdict(tmp_path: Path) -> None:
    suite = _suite()
    text = table(suite["fanout"])
    assert "NOT MET" in text and " met" in text and "ref" in text
    assert "FAILED: RuntimeError" in table(suite["dask"])
    assert not suite.ok
    ratios = suite.ratios()
    assert list(ratios["met"]) == [True, False, True]
    page = suite.save_html(tmp_path / "b.html").read_text()
    assert page.count("<img") == 2 and "class='miss'>NOT MET" in page
    assert "failed: RuntimeError: no cluster" in page
    saved = json.loads(suite.save_json(tmp_path / "b.json").read_text())
    assert saved["scenarios"][0]["measures"][1]["cpu_median_s"] == pytest.approx(0.1)
    with pytest.raises(KeyError, match="run:"):
        suite["spot"]
