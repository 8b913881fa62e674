"""The complete recorder: histograms, summaries and the resource sampler."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from geuse_nb.config import resolve_settings
from geuse_nb.errors import UsageError
from geuse_nb.observe.metrics import DEFAULT_BUCKETS_MS, Recorder
from geuse_nb.observe.resources import ResourceSampler


@pytest.fixture()
def rec() -> Recorder:
    r = Recorder(resolve_settings(), kit_name="t")
    # ec2.describe_regions: 1, 3, 30 ms; one throttled attempt; one cache hit
    for ms in (1, 3, 30):
        r.record_api_call(service="ec2", operation="describe_regions", region="us-east-1",
                          latency=ms / 1000, http_status=200)
    r.record_api_call(service="ec2", operation="describe_regions", region="us-east-1",
                      latency=0.3, http_status=400, error_code="Throttling", attempt=2,
                      retried=True)
    r.record_api_call(service="ec2", operation="describe_regions", region="us-east-1",
                      latency=0.00001, cache_hit=True)
    r.record_api_call(service="sts", operation="get_caller_identity", region="us-east-1",
                      latency=0.002, http_status=200)
    return r


def test_histogram_default_buckets(rec: Recorder) -> None:
    h = rec.histogram()
    assert list(h.columns) == ["low_ms", "high_ms", "count"]
    assert len(h) == len(DEFAULT_BUCKETS_MS) - 1
    assert h["count"].sum() == 5  # the cache hit is not a latency
    counts = dict(zip(h["low_ms"], h["count"], strict=True))
    assert counts[1.0] == 1 and counts[2.0] == 2 and counts[20.0] == 1 and counts[200.0] == 1
    assert rec.histogram(cache_hits=True)["count"].sum() == 6


def test_histogram_filters_groups_and_buckets(rec: Recorder) -> None:
    by = rec.histogram(by=["service", "operation"])
    per = by.groupby("service")["count"].sum().to_dict()
    assert per == {"ec2": 4, "sts": 1}
    assert rec.histogram("sts")["count"].sum() == 1
    assert rec.histogram("ec2.describe_regions")["count"].sum() == 4
    edges = rec.histogram(buckets=[0, 10, 1000])
    assert edges["count"].tolist() == [3, 2]
    log = rec.histogram(buckets=4)
    assert len(log) == 4 and log["count"].sum() == 5
    ratios = (log["high_ms"] / log["low_ms"]).to_numpy()
    assert np.allclose(ratios, ratios[0], rtol=1e-3)  # log-spaced
    with rec.timer("build"):
        pass
    assert rec.histogram("build", table="operations")["count"].sum() == 1
    with pytest.raises(UsageError, match="'nope'"):
        rec.histogram(by="nope")
    with pytest.raises(UsageError, match="gauges"):
        rec.histogram(table="gauges")
    with pytest.raises(UsageError):
        rec.histogram(buckets=0)


def test_histogram_empty() -> None:
    r = Recorder(resolve_settings())
    h = r.histogram()
    assert h["count"].sum() == 0 and len(h) == len(DEFAULT_BUCKETS_MS) - 1
    assert r.summary().empty


def test_summary(rec: Recorder) -> None:
    with pytest.raises(ValueError), rec.timer("deploy"):
        raise ValueError("x")
    s = rec.summary().set_index("name")
    ec2 = s.loc["ec2.describe_regions"]
    assert ec2["kind"] == "api_call"
    assert ec2["count"] == 5 and ec2["errors"] == 1 and ec2["cache_hits"] == 1
    assert ec2["p50_ms"] == pytest.approx(np.percentile([1, 3, 30, 300], 50))
    assert ec2["p99_ms"] == pytest.approx(np.percentile([1, 3, 30, 300], 99))
    assert ec2["max_ms"] == pytest.approx(300)
    dep = s.loc["deploy"]
    assert dep["kind"] == "operation" and dep["errors"] == 1 and dep["count"] == 1


def test_every_table_has_a_frame(rec: Recorder) -> None:
    from geuse_nb.observe.metrics import TABLES

    for table, columns in TABLES.items():
        assert list(rec.frame(table).columns) == list(columns)


def test_error_attempts_is_the_one_rule(rec: Recorder) -> None:
    """An error code or an HTTP status ≥ 400 is an error; a cache hit never is."""
    from geuse_nb.observe.analysis import error_attempts

    calls = rec.frame("api_calls")
    flags = error_attempts(calls)
    assert flags.tolist() == [False, False, False, True, False, False]
    assert int(flags.sum()) == int(rec.summary()["errors"].sum())


def test_the_recorder_sends_nothing_itself() -> None:
    """Sending needs a client: that is the Kit's ``export_cloudwatch``, not the recorder's."""
    r = Recorder(resolve_settings())
    assert not hasattr(r, "export_cloudwatch") and r.to_emf() == []


# ---------------------------------------------------------------- resource sampler
def test_sampler_start_close_idempotent() -> None:
    r = Recorder(resolve_settings())
    s = ResourceSampler(r, 0.05)
    s.start()
    thread = s._thread
    s.start()  # idempotent: same thread
    assert s._thread is thread and s.running
    # wait for at least two periodic samples (driven by the sampler's own Event)
    done = threading.Event()
    for _ in range(200):
        if len(r.rows("resources")) >= 3:
            done.set()
            break
        done.wait(0.05)
    assert done.is_set(), "sampler did not sample"
    s.close()
    assert not s.running and thread is not None and not thread.is_alive()
    df = r.frame("resources")
    assert (df["rss_bytes"] > 0).all()
    assert (df["disk_read_bytes"] >= 0).all() and df["net_sent_bytes"].is_monotonic_increasing
    s.close()  # idempotent


def test_sampler_close_is_prompt_with_long_interval() -> None:
    """close() wakes the thread through its Event: no waiting out a 1-hour interval."""
    import time

    r = Recorder(resolve_settings())
    s = ResourceSampler(r, 3600).start()
    began = time.monotonic()
    s.close()
    assert not s.running
    assert time.monotonic() - began < 30  # far from the hour the interval would wait
    # one on start and one on close; the ramp for short runs (0.1 s first) may add one
    # between them on a slow machine, never a stream of them
    assert 2 <= len(r.rows("resources")) <= 4


def test_sampler_bad_interval() -> None:
    with pytest.raises(UsageError, match="interval"):
        ResourceSampler(Recorder(resolve_settings()), 0)


def test_kit_stops_its_sampler(sandbox: object) -> None:
    import geuse_nb as gn

    with gn.Kit("sampled", backend="sandbox", sandbox=sandbox,
                metrics_collection_interval=0.05) as kit:
        sampler = kit._sampler
        assert sampler.running
    assert not sampler.running
    assert len(kit.metrics.rows("resources")) >= 2


def test_jobs_frame_keeps_fields_beyond_the_documented_columns(rec: Recorder) -> None:
    rec.add("jobs", {"map": "rollout", "key": "eu-west-1", "status": "done", "wave": 2,
                     "stack_id": "arn:aws:cloudformation:eu-west-1:1:stack/s/1",
                     "outputs": {"VpcId": "vpc-1"}})
    rec.add("jobs", {"map": "pmap", "key": 0, "status": "failed"})
    frame = rec.frame("jobs")
    documented = ["map", "key", "status", "attempts", "started", "ended", "seconds", "error",
                  "suggestion"]
    assert list(frame.columns) == [*documented, "wave", "stack_id", "outputs"]
    assert frame.loc[0, "outputs"] == {"VpcId": "vpc-1"} and frame.loc[0, "wave"] == 2
    assert frame["wave"].isna().tolist() == [False, True]


def test_merged_worker_rows_keep_their_extra_fields(rec: Recorder) -> None:
    merged = rec.merge([("jobs", {"map": "m", "key": "k", "status": "done", "wave": 1})])
    assert merged == 1
    row = rec.rows("jobs")[-1]
    assert row["wave"] == 1 and "suggestion" in row and row["suggestion"] is None
