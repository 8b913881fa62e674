"""Spot selection: price history across regions, a time-weighted interruption-aware ranking,
a pick with a failover list, and the reference tables behind them.

    from geuse_nb.ops import spot
    hist = spot.history(kit, ["g4dn.xlarge", "g5.xlarge"], regions="all", days=7)
    ranked = spot.rank(hist, advisor=spot.advisor(), on_demand=spot.on_demand(),
                       min_gpus=1, max_interruption="10-15%")
    choice = spot.recommend(ranked, fallbacks=3)
    run = spot.launch(kit, choice, count=2)      # fails over on capacity errors
    events = spot.watch(kit, run, timeout=3600)  # replaces interrupted instances
    spot.terminate(kit, run)

One module per job: ``_history`` (the fan-out), ``_reference`` (Spot Advisor feed and
on-demand table), ``_stats`` (time-weighted statistics per pool), ``_rank`` (filters and
score), ``_recommend`` (pick and failovers), ``_placement`` (GetSpotPlacementScores), ``_spec``
(launch input and RunInstances parameters), ``_launch`` (failover), ``_instances`` (reading
states back), ``_terminate``, ``_watch`` (interruption recovery), ``_outcomes`` (their typed
constants).
"""

from __future__ import annotations

from ._history import COLUMNS as HISTORY_COLUMNS
from ._history import describe, history
from ._launch import Launch, launch
from ._outcomes import AttemptOutcome, WatchEvent
from ._placement import placement_scores
from ._rank import DEFAULT_WEIGHTS, NoPoolsLeft, rank
from ._recommend import recommend
from ._reference import INTERRUPTION_LABELS, advisor, interruption_index, on_demand
from ._spec import LAUNCH_TAG
from ._stats import pool_stats
from ._terminate import terminate
from ._watch import watch

__all__ = ["DEFAULT_WEIGHTS", "HISTORY_COLUMNS", "INTERRUPTION_LABELS", "LAUNCH_TAG",
           "AttemptOutcome", "Launch", "NoPoolsLeft", "WatchEvent", "advisor", "describe",
           "history", "interruption_index", "launch", "on_demand", "placement_scores",
           "pool_stats", "rank", "recommend", "terminate", "watch"]
