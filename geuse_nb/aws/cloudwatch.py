"""CloudWatch export of the metrics recorder: PutMetricData, and Embedded Metric Format lines.

What is sent (namespace ``settings.metrics_namespace`` unless given):

- ``ApiLatency`` (Milliseconds), per (Kit, Service, Operation, Region): the latency
  distribution as ``Values``/``Counts`` — never an average. Latencies are rounded to
  ``precision`` significant digits (default 3: within 0.5 %), so the value→count map stays
  small; more than 150 distinct values are split over several datums (CloudWatch's limit).
- ``ApiCalls``, ``ApiErrors``, ``CacheHits`` (Count) per the same dimensions.
- every counter (its running total, Count) and every gauge (its samples as Values/Counts),
  with the Kit dimension.

Requests respect PutMetricData's limits: ≤ 1000 datums and well under 1 MB each.
Export sends everything currently recorded: exporting twice sends it twice, so
``recorder.reset()`` after an export when exporting periodically.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from ..observe.metrics import Recorder

MAX_DATUMS_PER_REQUEST = 1000
MAX_VALUES_PER_DATUM = 150
MAX_REQUEST_BYTES = 1_000_000
_BYTES_BUDGET = MAX_REQUEST_BYTES // 2  # JSON size estimate × 2 covers the wire encoding
MAX_EMF_METRICS = 100
MAX_EMF_VALUES = 100
API_DIMENSIONS = ("Kit", "Service", "Operation", "Region")


def _round_sig(values: Any, digits: int) -> Any:
    import numpy as np

    values = np.asarray(values, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        mags = np.where(values > 0, np.floor(np.log10(np.abs(values))), 0)
    scale = 10.0 ** (digits - 1 - mags)
    return np.round(values * scale) / scale


def _distribution(values: pd.Series, digits: int | None) -> list[tuple[list[float], list[float]]]:
    """(Values, Counts) chunks of ≤ 150 distinct values each."""
    series = values.dropna().astype("float64")
    if digits:
        import pandas as pd

        series = pd.Series(_round_sig(series.to_numpy(), digits))
    counts = series.value_counts(sort=False).sort_index()
    keys = [float(v) for v in counts.index]
    nums = [float(c) for c in counts.to_numpy()]
    return [(keys[i:i + MAX_VALUES_PER_DATUM], nums[i:i + MAX_VALUES_PER_DATUM])
            for i in range(0, len(keys), MAX_VALUES_PER_DATUM)]


def _dims(**values: Any) -> list[dict[str, str]]:
    return [{"Name": k, "Value": str(v) if v is not None and v == v else "none"}
            for k, v in values.items()]


def _timestamp(times: pd.Series) -> Any:
    import datetime as dt

    if len(times):
        return dt.datetime.fromtimestamp(times.max().timestamp(), dt.UTC)
    return dt.datetime.now(dt.UTC)


def _call_groups(recorder: Recorder) -> Iterator[tuple[str, str, str, pd.DataFrame]]:
    """``api_calls`` by (service, operation, region), with boolean ``hit`` and ``err``."""
    import pandas as pd

    calls = recorder.frame("api_calls")
    if not len(calls):
        return
    calls = calls.assign(
        region=calls["region"].fillna("none"),
        hit=calls["cache_hit"].fillna(False).astype(bool),
        err=calls["error_code"].notna()
        | (pd.to_numeric(calls["http_status"], errors="coerce").fillna(0) >= 400))
    for (service, operation, region), group in calls.groupby(
            ["service", "operation", "region"], sort=True):
        yield str(service), str(operation), str(region), group


def build_datums(recorder: Recorder, *, precision: int | None = 3) -> list[dict[str, Any]]:
    """The MetricData entries for everything in ``recorder`` (see the module docstring)."""
    kit = recorder.kit_name
    datums: list[dict[str, Any]] = []
    for service, operation, region, group in _call_groups(recorder):
        dims = _dims(Kit=kit, Service=service, Operation=operation, Region=region)
        stamp = _timestamp(group["time"])
        requests = group[~group["hit"]]
        for values, counts in _distribution(requests["latency"] * 1000.0, precision):
            datums.append({"MetricName": "ApiLatency", "Dimensions": dims,
                           "Timestamp": stamp, "Values": values, "Counts": counts,
                           "Unit": "Milliseconds"})
        for name, value in (("ApiCalls", len(requests)), ("ApiErrors", int(group["err"].sum())),
                            ("CacheHits", int(group["hit"].sum()))):
            datums.append({"MetricName": name, "Dimensions": dims, "Timestamp": stamp,
                           "Value": float(value), "Unit": "Count"})
    counters = recorder.frame("counters")
    for name, group in counters.groupby("name", sort=True):
        datums.append({"MetricName": str(name), "Dimensions": _dims(Kit=kit),
                       "Timestamp": _timestamp(group["time"]),
                       "Value": float(group["value"].iloc[-1]), "Unit": "Count"})
    gauges = recorder.frame("gauges")
    for name, group in gauges.groupby("name", sort=True):
        for values, counts in _distribution(group["value"], None):
            datums.append({"MetricName": str(name), "Dimensions": _dims(Kit=kit),
                           "Timestamp": _timestamp(group["time"]), "Values": values,
                           "Counts": counts, "Unit": "None"})
    return datums


def _size(datum: dict[str, Any]) -> int:
    return len(json.dumps(datum, default=str))


def batch_datums(datums: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Split datums into PutMetricData requests: ≤ 1000 datums and under the byte budget."""
    batch: list[dict[str, Any]] = []
    size = 0
    for datum in datums:
        n = _size(datum)
        if batch and (len(batch) >= MAX_DATUMS_PER_REQUEST or size + n > _BYTES_BUDGET):
            yield batch
            batch, size = [], 0
        batch.append(datum)
        size += n
    if batch:
        yield batch


def export_cloudwatch(recorder: Recorder, client: Any, namespace: str | None = None, *,
                      precision: int | None = 3) -> dict[str, Any]:
    """PutMetricData everything in ``recorder``; returns requests sent, datums and namespace."""
    from ..errors import AwsCallError

    namespace = namespace or recorder.namespace
    datums = build_datums(recorder, precision=precision)
    requests = 0
    for batch in batch_datums(datums):
        try:
            client.put_metric_data(Namespace=namespace, MetricData=batch)
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            raise AwsCallError(
                f"PutMetricData failed after {requests} request(s): {exc}",
                service="cloudwatch", operation="put_metric_data",
                region=getattr(getattr(client, "meta", None), "region_name", None),
                error_code=code, retryable=code in ("Throttling", "ThrottlingException"),
                suggestion="check cloudwatch:PutMetricData permission and the namespace",
            ) from exc
        requests += 1
    return {"namespace": namespace, "requests": requests, "datums": len(datums),
            "metrics": sorted({d["MetricName"] for d in datums})}


# ---------------------------------------------------------------- EMF
def _emf_event(namespace: str, dims: dict[str, str], metrics: dict[str, tuple[Any, str]],
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


def to_emf(recorder: Recorder, namespace: str | None = None) -> list[str]:
    """CloudWatch Embedded Metric Format JSON lines for everything in ``recorder``.

    One event per (service, operation, region) with ``ApiLatency`` as an array of ≤ 100
    values (more become further events), ``ApiCalls``, ``ApiErrors`` and ``CacheHits``; then
    counters and gauges with the Kit dimension, ≤ 100 metrics per event.
    """
    namespace = namespace or recorder.namespace
    kit = recorder.kit_name
    lines: list[str] = []
    for service, operation, region, group in _call_groups(recorder):
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
                lines.append(_emf_event(namespace, dims, metrics, stamp))
    kit_metrics: dict[str, tuple[Any, str]] = {}
    stamps: list[int] = []
    counters = recorder.frame("counters")
    for name, group in counters.groupby("name", sort=True):
        kit_metrics[str(name)] = (float(group["value"].iloc[-1]), "Count")
        stamps.append(_ms(group["time"]))
    gauges = recorder.frame("gauges")
    for name, group in gauges.groupby("name", sort=True):
        # EMF arrays hold ≤ 100 values: the last 100 samples of each gauge
        kit_metrics[str(name)] = ([float(v) for v in group["value"].tail(MAX_EMF_VALUES)],
                                  "None")
        stamps.append(_ms(group["time"]))
    names = list(kit_metrics)
    for i in range(0, len(names), MAX_EMF_METRICS):
        chunk = {n: kit_metrics[n] for n in names[i:i + MAX_EMF_METRICS]}
        lines.append(_emf_event(namespace, {"Kit": kit}, chunk,
                                max(stamps) if stamps else int(time.time() * 1000)))
    return lines
