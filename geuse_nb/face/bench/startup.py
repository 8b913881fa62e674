"""Scenario 12: start-up, ``import geuse_nb`` in a fresh interpreter beside ``import boto3``.

What a notebook pays before its first cell does anything: each contender is a new
``python -c "import X"`` process of this interpreter, timed from outside (wall, process
start included) and alternated with the other, so the two share the machine's drift; the
interpreter's own start is the third contender (``python -c pass``) and is taken off
both. The target (< 0.5 s) is the older ``bench/bench_import.py``'s. Measured
(``--quick``, 3 rounds, load 9 on this 2-core VM): ``import geuse_nb`` 0.29 s above the
interpreter's own 0.18 s, ``import boto3`` 1.28 s above it: geuse_nb imports boto3,
pandas, matplotlib and moto lazily, on first use, so a notebook pays for them then.
"""

from __future__ import annotations

import subprocess
import sys

from ._core import Context, Ratio, Scenario, ScenarioResult, alternate, register

TARGET_S = 0.5


def _python(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                   timeout=120)


@register
class Startup(Scenario):
    key, number, title = "import", "12", "Start-up: import geuse_nb in a new interpreter"

    def run(self, ctx: Context) -> ScenarioResult:
        rounds = 3 if ctx.quick else max(ctx.rounds, 7)
        measures = alternate({"python -c pass": lambda: _python("pass"),
                              "import boto3": lambda: _python("import boto3"),
                              "import geuse_nb": lambda: _python("import geuse_nb")},
                             rounds, notes={"python -c pass": "the interpreter alone"})
        bare, boto3, ours = (m.median for m in measures)
        return self.result(
            params={"python": sys.executable, "rounds": rounds}, measures=measures,
            ratios=[Ratio("import geuse_nb, s (interpreter start taken off)", ours - bare,
                          "<=", TARGET_S),
                    Ratio("import geuse_nb / import boto3", (ours - bare) / (boto3 - bare),
                          note="< 1: boto3 is imported on first use")],
            figures={"interpreter_s": bare})
