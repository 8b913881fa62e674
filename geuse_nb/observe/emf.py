"""The recorder's tables as CloudWatch Embedded Metric Format (EMF) JSON lines.

EMF is a log format: CloudWatch turns each JSON line it ingests (through the agent, or
a Lambda's log stream) into metrics, so writing them needs no client and no AWS call;
this module is pure formatting. Sending with ``PutMetricData`` is ``aws/cloudwatch.py``.

- One event per (service, operation, region) with the ``Kit``, ``Service``,
  ``Operation`` and ``Region`` dimensions: ``ApiCalls``, ``ApiErrors`` (by
  ``analysis.error_attempts``), ``CacheHits`` and ``ApiLatency`` (milliseconds) as an
  array. EMF allows ≤ 100 values per array and ≤ 100 metrics per event, so longer
  latency lists continue in further events.
- Counters (their running total) and gauges (their last 100 samples) with the ``Kit``
  dimension, ≤ 100 metrics per event.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from .analysis import api_call_groups

if TYPE_CHECKING:
    import pandas as pd

MAX_EMF_METRICS = 100
MAX_EMF_VALUES = 100


def _event(namespace: str, dims: dict[str, str], metrics: dict[str, tuple[Any, str]],
           stamp_ms: int) -> str:
    event: dict[str, Any] = {
        "_aws": {
            "Timestamp": stamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [list(dims)],
                "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in metrics.items()],
            }],
        },
        **dims,
    }
    for name, (value, _) in metrics.items():
        event[name] = value
    return json.dumps(event, separators=(",", ":"))


def _ms(times: pd.Series) -> int:
    if len(times):
        return int(times.max().timestamp() * 1000)
    return int(time.time() * 1000)


def to_emf(api_calls: pd.DataFrame, counters: pd.DataFrame, gauges: pd.DataFrame, *,
           namespace: str, kit: str) -> list[str]:
    """EMF JSON lines for the recorder tables ``api_calls``, ``counters`` and ``gauges``
    (as ``Recorder.frame`` returns them); ``[]`` when all three are empty."""
    lines: list[str] = []
    for service, operation, region, group in api_call_groups(api_calls):
        dims = {"Kit": kit, "Service": service, "Operation": operation, "Region": region}
        stamp = _ms(group["time"])
        latencies = [round(v, 3) for v in (group.loc[~group["hit"], "latency"] * 1000.0)
                     .astype("float64").dropna().tolist()]
        first: dict[str, tuple[Any, str]] = {
            "ApiCalls": (int((~group["hit"]).sum()), "Count"),
            "ApiErrors": (int(group["err"].sum()), "Count"),
            "CacheHits": (int(group["hit"].sum()), "Count"),
        }
        chunks = [latencies[i:i + MAX_EMF_VALUES]
                  for i in range(0, len(latencies), MAX_EMF_VALUES)] or [[]]
        for i, chunk in enumerate(chunks):
            metrics = dict(first) if i == 0 else {}
            if chunk:
                metrics["ApiLatency"] = (chunk, "Milliseconds")
            if metrics:
                lines.append(_event(namespace, dims, metrics, stamp))
    kit_metrics: dict[str, tuple[Any, str]] = {}
    stamps: list[int] = []
    for name, group in counters.groupby("name", sort=True):
        kit_metrics[str(name)] = (float(group["value"].iloc[-1]), "Count")
        stamps.append(_ms(group["time"]))
    for name, group in gauges.groupby("name", sort=True):
        # EMF arrays hold ≤ 100 values: the last 100 samples of each gauge
        kit_metrics[str(name)] = ([float(v) for v in group["value"].tail(MAX_EMF_VALUES)],
                                  "None")
        stamps.append(_ms(group["time"]))
    names = list(kit_metrics)
    for i in range(0, len(names), MAX_EMF_METRICS):
        batch = {n: kit_metrics[n] for n in names[i:i + MAX_EMF_METRICS]}
        lines.append(_event(namespace, {"Kit": kit}, batch,
                            max(stamps) if stamps else int(time.time() * 1000)))
    return lines
