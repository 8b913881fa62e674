"""``RolloutResult``: one row per region, a Gantt chart, and an inline display.

The frame keeps what a runbook reads next: each region's wave, state, times, stack id and
outputs, and for a failure the error and what to do. ``gantt()`` draws one bar per region
from start to end, coloured by state and grouped by wave, so strict mode's two-at-a-time
and a tolerance stop are visible at a glance.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from ._model import RegionOutcome, RegionState

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ._plan import Plan

COLUMNS = ("region", "wave", "status", "action", "started", "ended", "seconds", "stack_id",
           "stack_status", "outputs", "error", "suggestion", "note")
_COLOURS = {
    RegionState.DONE: "#2e7d32", RegionState.NO_CHANGES: "#81c784",
    RegionState.FAILED: "#c62828", RegionState.INTERRUPTED: "#ad1457",
    RegionState.ROLLED_BACK: "#ef6c00", RegionState.SKIPPED: "#9e9e9e",
    RegionState.RUNNING: "#1565c0",
}


@dataclasses.dataclass
class RolloutResult:
    """What a ``run`` did (or, for a dry run, would do) in every region of its plan."""

    stack_name: str
    plan: Plan
    applied: bool
    outcomes: list[RegionOutcome]
    started: float = dataclasses.field(default_factory=time.time)
    ended: float | None = None
    stopped: str | None = None  # why later regions did not start (tolerance, gate, bake)
    rolled_back: bool = False
    interrupted: bool = False
    peak_concurrency: dict[int, int] = dataclasses.field(default_factory=dict)
    capabilities: tuple[str, ...] = ()  # sent with CreateStack/UpdateStack
    capabilities_detected: bool = True  # from the template (False: as the caller gave them)

    # ------------------------------------------------------------ reading
    def __getitem__(self, region: str) -> RegionOutcome:
        for out in self.outcomes:
            if out.region == region:
                return out
        raise KeyError(region)

    @property
    def counts(self) -> dict[str, int]:
        """How many regions are in each state."""
        return dict(Counter(str(o.status) for o in self.outcomes))

    @property
    def ok(self) -> bool:
        """Nothing failed, stopped or was interrupted."""
        return not (self.stopped or self.interrupted) and not any(
            o.status in (RegionState.FAILED, RegionState.INTERRUPTED, RegionState.SKIPPED)
            for o in self.outcomes)

    @property
    def seconds(self) -> float | None:
        return None if self.ended is None else self.ended - self.started

    def regions(self, *states: str) -> list[str]:
        """The regions in any of ``states`` (all when none given), in plan order."""
        return [o.region for o in self.outcomes if not states or o.status in states]

    def outputs(self) -> dict[str, dict[str, str]]:
        """Stack outputs by region (regions with a stack only)."""
        return {o.region: dict(o.outputs) for o in self.outcomes if o.outputs}

    def wave(self, number: int) -> RolloutResult:
        """The part of this result for one wave (what a ``gate`` receives)."""
        return dataclasses.replace(self, outcomes=[o for o in self.outcomes
                                                   if o.wave == number])

    def frame(self) -> pd.DataFrame:
        """One row per region: region, wave, status, action, started, ended (UTC),
        seconds, stack_id, stack_status, outputs (a dict), error, suggestion, note."""
        import pandas as pd

        df = pd.DataFrame.from_records([o.row() for o in self.outcomes], columns=list(COLUMNS))
        for col in ("started", "ended"):
            df[col] = pd.to_datetime(df[col], unit="s", utc=True)
        df.attrs.update(stack_name=self.stack_name, applied=self.applied,
                        stopped=self.stopped, rolled_back=self.rolled_back,
                        interrupted=self.interrupted, capabilities=list(self.capabilities))
        return df

    def describe(self) -> str:
        """One line: what happened where."""
        kind = "rollout" if self.applied else "dry run"
        counts = ", ".join(f"{n} {s}" for s, n in self.counts.items())
        took = f" in {self.seconds:.1f} s" if self.seconds is not None else ""
        how = "detected" if self.capabilities_detected else "given"
        tail = (f" · capabilities {', '.join(self.capabilities)} ({how})" if self.capabilities
                else "" if self.capabilities_detected else " · no capabilities (given)")
        if self.interrupted:
            tail += " · interrupted"
        if self.stopped:
            tail += f" · stopped: {self.stopped}"
        if self.rolled_back:
            tail += " · rolled back"
        return f"{kind} of {self.stack_name!r} to {len(self.outcomes)} regions{took}: " \
               f"{counts}{tail}"

    def __repr__(self) -> str:
        return f"<RolloutResult {self.describe()}>"

    def section(self) -> tuple[str, pd.DataFrame, str]:
        """(title, table, note) for ``report.add_section``."""
        title = f"Rollout of {self.stack_name}" + ("" if self.applied else " (dry run)")
        return title, self.frame(), self.describe()

    # ------------------------------------------------------------ charts
    def gantt(self, ax: Axes | None = None) -> Figure:
        """One bar per region from start to end (seconds since the run began), coloured
        by state, waves top to bottom; regions that never started are listed, barless."""
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch

        rows = list(reversed(self.outcomes))
        if ax is None:
            fig, ax = plt.subplots(figsize=(8, 0.32 * len(rows) + 1.2))
            plt.close(fig)  # drawn explicitly (inline display or savefig), never twice
        else:
            fig = ax.figure  # type: ignore[assignment]  # an Axes' figure is a Figure here
        t0 = self.started
        for y, out in enumerate(rows):
            if out.started is None:
                continue
            end = out.ended if out.ended is not None else time.time()
            ax.barh(y, end - out.started, left=out.started - t0, height=0.6,
                    color=_COLOURS.get(out.status, "#607d8b"))
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([f"{o.region} · w{o.wave}" for o in rows], fontsize=8)
        ax.set_xlabel("seconds since the run began")
        ax.set_title(self.describe(), fontsize=9, loc="left")
        seen = [s for s in _COLOURS if any(o.status == s for o in self.outcomes)]
        if seen:
            ax.legend(handles=[Patch(color=_COLOURS[s], label=str(s)) for s in seen],
                      fontsize=7, loc="lower right")
        ax.grid(axis="x", alpha=0.3)
        fig.tight_layout()
        return fig

    def _repr_html_(self) -> str:
        df = self.frame()
        df["outputs"] = df["outputs"].map(
            lambda d: ", ".join(f"{k}={v}" for k, v in d.items()) if d else "")
        df["started"] = df["started"].dt.strftime("%H:%M:%S")
        df["ended"] = df["ended"].dt.strftime("%H:%M:%S")
        chart = ""
        if any(o.started is not None for o in self.outcomes):
            buf = io.BytesIO()
            self.gantt().savefig(buf, format="png", dpi=80)
            chart = ('<img alt="rollout Gantt chart" src="data:image/png;base64,'
                     + base64.b64encode(buf.getvalue()).decode() + '">')
        return (f"<div><b>{html.escape(self.describe())}</b>"
                f"{df.to_html(index=False, border=0, na_rep='')}{chart}</div>")


def record_jobs(recorder: Any, result: RolloutResult) -> None:
    """One metrics ``jobs`` row per region (status as a ``JobStatus``; the region's own
    state, wave, action, stack id and outputs kept in the row)."""
    name = f"rollout {result.stack_name}" + ("" if result.applied else " (dry run)")
    for out in result.outcomes:
        recorder.add("jobs", {
            "map": name, "key": out.region, "status": out.status.job_status,
            "attempts": 1 if out.started is not None else 0, "started": out.started,
            "ended": out.ended, "seconds": out.seconds, "error": out.error,
            "suggestion": out.suggestion, "wave": out.wave, "state": str(out.status),
            "action": None if out.action is None else str(out.action),
            "stack_id": out.stack_id, "outputs": dict(out.outputs),
        })
