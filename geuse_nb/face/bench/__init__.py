"""``geuse-nb bench``: the kit side by side with what users write instead, the bash suite's
claims and the physical limit of this machine, as ratios measured in one run.

    geuse-nb bench [SCENARIO…] [--quick] [--rtt S] [--json PATH] [--html PATH]

    from geuse_nb.face import bench
    suite = bench.run(["fanout", "cache"], quick=True)
    suite.ratios()                      # DataFrame: scenario, name, value, target, met
    bench.figure(suite["fanout"])       # a scenario's plot (matplotlib Figure)
    suite.save_html("reports/bench.html")

Scenarios (the issue's numbering): 1 ``fanout``, 1b ``fanout_far``, 2 ``limit``, 3 ``spot``,
4 ``rollout``, 5 ``cache``, 6 ``pool``, 7 ``overhead``, 8 ``scale``, 9 ``dask``, 10 ``cpu``,
11 ``accounts``, 11b ``accounts_scale``, 12 ``import``, 13 ``spot_rank``. Each runs its
contenders alternately (A B A B …) for several rounds on one sandbox (RTT 60 ms,
handshake 2 × RTT unless a scenario says otherwise) and reports medians with min–max and
its ratios against the issue's targets. Modules: ``_core`` (scenario ABC and registry,
alternation, measures and ratios), ``_suite`` (the run), ``_text`` and ``_html`` (the
tables, the report with plots), ``command`` (the CLI), one module per scenario group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

NAMES = ("fanout", "fanout_far", "limit", "spot", "rollout", "cache", "pool", "overhead",
         "scale", "dask", "cpu", "accounts", "accounts_scale", "import", "spot_rank")

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ._core import ScenarioResult
    from ._suite import SuiteResult

__all__ = ["NAMES", "SuiteResult", "figure", "run"]


def run(names: Any = (), **kwargs: Any) -> SuiteResult:
    """``_suite.run``: the named scenarios (all when none) → ``SuiteResult``."""
    from ._suite import run as run_suite

    return run_suite(names, **kwargs)


def figure(result: ScenarioResult) -> Figure:
    """A scenario's plot, as in the HTML report: medians with min–max bars, or for the
    scale scenario wall time against ceil(calls / workers) with its fitted line."""
    from ._html import bars, scale_plot

    if result.plot and result.plot.get("kind") == "scale":
        return scale_plot(result.plot, result.title)
    return bars(result)
