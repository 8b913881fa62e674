"""CloudWatch export of the metrics recorder with PutMetricData (``kit.export_cloudwatch()``).

This is the AWS layer's half: it needs a client, so the Kit hands it one
(``export_cloudwatch(recorder, client)``); the recorder knows nothing of it. The
client-free half, Embedded Metric Format lines, is ``observe/emf.py``
(``recorder.to_emf()``). Both group calls and count errors with ``observe/analysis.py``.

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
``recorder.reset()`` after an export when exporting periodically. A failed request
raises ``AwsCallError`` with the suggestion and retry verdict of ``aws/errors.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import AwsCallError
from ..observe.analysis import api_call_groups
from .errors import suggest_for_code, to_aws_error

if TYPE_CHECKING:
    import pandas as pd

    from ..observe.metrics import Recorder

MAX_DATUMS_PER_REQUEST = 1000
MAX_VALUES_PER_DATUM = 150
MAX_REQUEST_BYTES = 1_000_000
_BYTES_BUDGET = MAX_REQUEST_BYTES // 2  # JSON size estimate × 2 covers the wire encoding
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


def build_datums(recorder: Recorder, *, precision: int | None = 3) -> list[dict[str, Any]]:
    """The MetricData entries for everything in ``recorder`` (see the module docstring)."""
    kit = recorder.kit_name
    datums: list[dict[str, Any]] = []
    for service, operation, region, group in api_call_groups(recorder.frame("api_calls")):
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
    for counter, group in counters.groupby("name", sort=True):
        datums.append({"MetricName": str(counter), "Dimensions": _dims(Kit=kit),
                       "Timestamp": _timestamp(group["time"]),
                       "Value": float(group["value"].iloc[-1]), "Unit": "Count"})
    gauges = recorder.frame("gauges")
    for gauge, group in gauges.groupby("name", sort=True):
        for values, counts in _distribution(group["value"], None):
            datums.append({"MetricName": str(gauge), "Dimensions": _dims(Kit=kit),
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
    namespace = namespace or recorder.namespace
    datums = build_datums(recorder, precision=precision)
    requests = 0
    for batch in batch_datums(datums):
        try:
            client.put_metric_data(Namespace=namespace, MetricData=batch)
        except Exception as exc:
            region = getattr(getattr(client, "meta", None), "region_name", None)
            said = to_aws_error(exc, "cloudwatch", "put_metric_data", region)
            raise AwsCallError(
                f"PutMetricData failed after {requests} request(s): {exc}",
                service="cloudwatch", operation="put_metric_data", region=region,
                error_code=said.error_code, retryable=said.retryable,
                suggestion=suggest_for_code(said.error_code, "cloudwatch", "put_metric_data",
                                            region, str(exc))
                or "check cloudwatch:PutMetricData permission and the namespace",
            ) from exc
        requests += 1
    return {"namespace": namespace, "requests": requests, "datums": len(datums),
            "metrics": sorted({d["MetricName"] for d in datums})}
