"""CloudWatch export against the sandbox's CloudWatch, and EMF lines against a schema."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import jsonschema
import pytest

from geuse_nb.aws.cloudwatch import (
    MAX_DATUMS_PER_REQUEST,
    MAX_VALUES_PER_DATUM,
    batch_datums,
    build_datums,
    export_cloudwatch,
)
from geuse_nb.config import resolve_settings
from geuse_nb.observe.metrics import Recorder

EMF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array", "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": {"type": "string", "minLength": 1, "maxLength": 1024},
                            "Dimensions": {
                                "type": "array",
                                "items": {"type": "array", "maxItems": 30,
                                          "items": {"type": "string", "minLength": 1}},
                            },
                            "Metrics": {
                                "type": "array", "maxItems": 100,
                                "items": {
                                    "type": "object", "required": ["Name"],
                                    "properties": {
                                        "Name": {"type": "string", "minLength": 1,
                                                 "maxLength": 1024},
                                        "Unit": {"type": "string"},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def cw_client(sandbox: Any) -> Any:
    import boto3

    return boto3.client("cloudwatch", region_name="us-east-1",
                        endpoint_url=sandbox.endpoint_url("us-east-1"),
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def stats(client: Any, namespace: str, name: str, dims: dict[str, str]) -> dict[str, float]:
    now = dt.datetime.now(dt.UTC)
    points = client.get_metric_statistics(
        Namespace=namespace, MetricName=name,
        Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
        StartTime=now - dt.timedelta(hours=1), EndTime=now + dt.timedelta(minutes=5),
        Period=3600, Statistics=["SampleCount", "Sum"])["Datapoints"]
    return {"SampleCount": sum(p["SampleCount"] for p in points),
            "Sum": sum(p["Sum"] for p in points)}


def test_export_reads_back_counts_and_sums(sandbox: Any) -> None:
    ns = "GeuseTest/export"
    rec = Recorder(resolve_settings(metrics_namespace=ns), kit_name="cw")
    # 400 distinct latencies (forces > 150 values → several datums) on 1–400 ms
    latencies_ms = [float(v) for v in range(1, 401)] + [5.0] * 50
    for ms in latencies_ms:
        rec.record_api_call(service="ec2", operation="describe_regions", region="us-east-1",
                            latency=ms / 1000, http_status=200)
    rec.record_api_call(service="ec2", operation="describe_regions", region="us-east-1",
                        latency=0.002, http_status=503, error_code="ServiceUnavailable")
    rec.record_api_call(service="ec2", operation="describe_regions", region="us-east-1",
                        latency=0.0, cache_hit=True)
    rec.count("stacks_created", 2)
    rec.count("stacks_created", 3)
    rec.gauge("queue_depth", 4)
    rec.gauge("queue_depth", 6)

    client = cw_client(sandbox)
    result = export_cloudwatch(rec, client)  # namespace from settings.metrics_namespace
    assert result["namespace"] == ns and result["requests"] == 1
    latency_datums = [d for d in build_datums(rec) if d["MetricName"] == "ApiLatency"]
    assert len(latency_datums) == 3
    assert all(len(d["Values"]) <= MAX_VALUES_PER_DATUM for d in latency_datums)

    dims = {"Kit": "cw", "Service": "ec2", "Operation": "describe_regions",
            "Region": "us-east-1"}
    lat = stats(client, ns, "ApiLatency", dims)
    assert lat["SampleCount"] == len(latencies_ms) + 1
    assert lat["Sum"] == pytest.approx(sum(latencies_ms) + 2.0)
    assert stats(client, ns, "ApiCalls", dims)["Sum"] == len(latencies_ms) + 1
    assert stats(client, ns, "ApiErrors", dims)["Sum"] == 1
    assert stats(client, ns, "CacheHits", dims)["Sum"] == 1
    assert stats(client, ns, "stacks_created", {"Kit": "cw"})["Sum"] == 5
    gauge = stats(client, ns, "queue_depth", {"Kit": "cw"})
    assert gauge == {"SampleCount": 2, "Sum": 10}


def test_export_splits_requests_and_namespace_override(sandbox: Any) -> None:
    rec = Recorder(resolve_settings(), kit_name="many")
    for i in range(300):  # 300 groups × 4 metrics = 1200 datums → 2 requests
        rec.record_api_call(service="ec2", operation=f"op{i}", region="eu-west-1",
                            latency=0.01, http_status=200)
    datums = build_datums(rec)
    batches = list(batch_datums(datums))
    assert len(datums) == 1200 and [len(b) for b in batches] == [MAX_DATUMS_PER_REQUEST, 200]
    result = export_cloudwatch(rec, cw_client(sandbox), namespace="GeuseTest/split")
    assert result == {"namespace": "GeuseTest/split", "requests": 2, "datums": 1200,
                      "metrics": ["ApiCalls", "ApiErrors", "ApiLatency", "CacheHits"]}
    got = stats(cw_client(sandbox), "GeuseTest/split", "ApiCalls",
                {"Kit": "many", "Service": "ec2", "Operation": "op299", "Region": "eu-west-1"})
    assert got["Sum"] == 1


def test_export_failure_is_an_aws_call_error(sandbox: Any) -> None:
    from geuse_nb.errors import AwsCallError

    rec = Recorder(resolve_settings(), kit_name="bad")
    rec.namespace = ""  # botocore rejects an empty namespace before sending
    rec.gauge("x", 1)
    with pytest.raises(AwsCallError, match="PutMetricData") as info:
        export_cloudwatch(rec, cw_client(sandbox))
    assert info.value.service == "cloudwatch" and info.value.suggestion


def test_emf_lines_match_schema_and_limits() -> None:
    rec = Recorder(resolve_settings(metrics_namespace="GeuseTest/emf"), kit_name="emf")
    for i in range(250):
        rec.record_api_call(service="s3", operation="list_buckets", region=None,
                            latency=i / 1000, http_status=200)
    rec.record_api_call(service="s3", operation="list_buckets", region=None, latency=0.0,
                        cache_hit=True)
    for i in range(130):
        rec.count(f"counter_{i:03d}")
    rec.gauge("depth", 3)
    lines = rec.to_emf()
    events = [json.loads(line) for line in lines]
    for event in events:
        jsonschema.validate(event, EMF_SCHEMA)
        meta = event["_aws"]["CloudWatchMetrics"][0]
        assert meta["Namespace"] == "GeuseTest/emf"
        for dim_set in meta["Dimensions"]:
            assert all(d in event for d in dim_set)  # every dimension has a value
        for metric in meta["Metrics"]:
            value = event[metric["Name"]]
            assert not isinstance(value, list) or len(value) <= 100
    api = [e for e in events if e.get("Service") == "s3"]
    assert sum(len(e.get("ApiLatency", [])) for e in api) == 250
    assert api[0]["ApiCalls"] == 250 and api[0]["CacheHits"] == 1
    assert api[0]["Region"] == "none"
    kit_events = [e for e in events if "Service" not in e]
    assert sum(len(e["_aws"]["CloudWatchMetrics"][0]["Metrics"]) for e in kit_events) == 131
    assert len(kit_events) == 2  # ≤ 100 metrics per event
    assert Recorder(resolve_settings()).to_emf() == []


def test_kit_exports_through_its_own_client(kit: Any, sandbox: Any) -> None:
    """``kit.export_cloudwatch()``: the Kit hands the recorder and its pooled client to the
    AWS layer; the recorder holds no client factory (observe/ imports nothing of aws/)."""
    kit.call("sts", "get_caller_identity")
    assert not hasattr(kit.metrics, "cloudwatch_client_factory")
    result = kit.export_cloudwatch(namespace="GeuseTest/kit")
    assert result["requests"] == 1 and "ApiLatency" in result["metrics"]
    dims = {"Kit": kit.name, "Service": "sts", "Operation": "get_caller_identity",
            "Region": kit.backend.default_region}
    assert stats(cw_client(sandbox), "GeuseTest/kit", "ApiCalls", dims)["Sum"] >= 1


def test_emf_cloudwatch_and_summary_count_the_same_errors() -> None:
    """One rule (``analysis.error_attempts``) decides what an error attempt is."""
    rec = Recorder(resolve_settings(), kit_name="rule")
    rows = [(200, None), (503, None), (200, "Throttling"), (None, "EndpointConnectionError"),
            (404, None), (None, None)]
    for status, code in rows:
        rec.record_api_call(service="ec2", operation="describe_regions", region="us-east-1",
                            latency=0.01, http_status=status, error_code=code)
    expected = sum(1 for status, code in rows if code or (status or 0) >= 400)
    summary = rec.summary().set_index("name").loc["ec2.describe_regions"]
    emf = json.loads(rec.to_emf()[0])
    datum = next(d for d in build_datums(rec) if d["MetricName"] == "ApiErrors")
    assert summary["errors"] == emf["ApiErrors"] == datum["Value"] == expected


def test_a_kit_exports_at_close_when_asked(sandbox: Any) -> None:
    """``metrics_cloudwatch_export=True``: closing the kit sends what it recorded."""
    import geuse_nb as gn

    with gn.Kit("closing", backend="sandbox", sandbox=sandbox,
                metrics_cloudwatch_export=True, metrics_namespace="GeuseTest/close") as kit:
        kit.call("sts", "get_caller_identity")
        region = kit.backend.default_region
    dims = {"Kit": "closing", "Service": "sts", "Operation": "get_caller_identity",
            "Region": region}
    assert stats(cw_client(sandbox), "GeuseTest/close", "ApiCalls", dims)["Sum"] >= 1
