"""history(), replayed markets and placement scores against the sandbox (real child process)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from geuse_nb.errors import SandboxError, UsageError
from geuse_nb.ops import spot

TYPES = ["g4dn.xlarge", "g5.xlarge"]
REGIONS = ["us-east-1", "eu-west-1"]


@pytest.fixture()
def replaying(kit: Any) -> Iterator[Any]:
    """The kit; whatever history a test sets is cleared afterwards."""
    yield kit
    kit.sandbox.clear_spot_history()


@pytest.mark.parametrize("args, match", [
    ({"instance_types": ["g4dn.xlarg"]}, "did you mean 'g4dn.xlarge'"),
    ({"instance_types": []}, "empty"),
    ({"regions": ["eu-wset-1"]}, "did you mean 'eu-west-1'"),
    ({"days": 0}, "days=0"),
    ({"days": 91}, "from 1 to 90"),
    ({"days": True}, "days=True"),
    ({"product": "Linux"}, "Linux/UNIX"),
])
def test_bad_input_fails_before_any_request(kit: Any, args: dict, match: str) -> None:
    call = {"instance_types": TYPES, "regions": REGIONS, "days": 7, **args}
    before = kit.sandbox.requests()
    with pytest.raises(UsageError, match=match):
        spot.history(kit, **call)
    assert kit.sandbox.requests() == before


def test_unknown_interruption_label_names_the_five(kit: Any) -> None:
    before = kit.sandbox.requests()
    with pytest.raises(UsageError, match="'<5%', '5-10%', '10-15%', '15-20%', '>20%'"):
        spot.interruption_index("<3%")
    with pytest.raises(UsageError, match="did you mean '10-15%'"):
        spot.rank(pd.DataFrame(columns=list(spot.HISTORY_COLUMNS)), advisor=spot.advisor(),
                  max_interruption="10-15")
    assert kit.sandbox.requests() == before


def test_history_columns_and_window(kit: Any) -> None:
    frame = spot.history(kit, TYPES, REGIONS, days=2)
    assert list(frame.columns) == list(spot.HISTORY_COLUMNS)
    assert frame.attrs["failed"] == [] and frame.attrs["days"] == 2
    assert frame.attrs["start"].minute == 0 and frame.attrs["start"].second == 0
    assert set(frame["region"]) == set(REGIONS) and set(frame["instance_type"]) == set(TYPES)
    assert set(frame["product"]) == {"Linux/UNIX"}
    assert frame["price"].dtype == float and str(frame["timestamp"].dt.tz) == "UTC"
    # the price in force at the start, then changes inside the window, oldest first per pool
    for _, pool in frame.groupby(["region", "availability_zone", "instance_type"]):
        assert pool["timestamp"].is_monotonic_increasing
        assert (pool["timestamp"] >= frame.attrs["start"]).sum() >= len(pool) - 1
    # the sandbox's AZs are moto's names of the catalog's AZ ids: us-east-1e (use1-az3) has
    # no g4dn price in the catalog, so it offers none
    east = frame[(frame["region"] == "us-east-1") & (frame["instance_type"] == "g4dn.xlarge")]
    assert set(east["availability_zone"]) == {"us-east-1a", "us-east-1b", "us-east-1c",
                                              "us-east-1d", "us-east-1f"}


def test_warm_rerun_at_rtt_60ms_sends_nothing(kit: Any) -> None:
    kit.sandbox.set_network(rtt=0.06)
    try:
        kit.sandbox.reset_counters()
        began = time.perf_counter()
        cold = spot.history(kit, TYPES, REGIONS, days=7)
        cold_s = time.perf_counter() - began
        cold_requests = kit.sandbox.requests()
        began = time.perf_counter()
        warm = spot.history(kit, TYPES, REGIONS, days=7)
        warm_s = time.perf_counter() - began
        assert cold_requests >= len(TYPES) * len(REGIONS)
        assert kit.sandbox.requests() == cold_requests  # zero AWS requests when warm
        pd.testing.assert_frame_equal(cold, warm)
        print(f"history cold {cold_s:.3f} s ({cold_requests} requests), warm {warm_s:.4f} s")
    finally:
        kit.sandbox.set_network(rtt=0.0)


def _known_market(now: pd.Timestamp) -> pd.DataFrame:
    """Four pools whose order is known: b is cheapest most of the week, a had a spike, c is
    cheap now only, d is in another region."""
    hour = now.floor("h")

    def pool(region: str, az: str, points: list[tuple[float, float]]) -> pd.DataFrame:
        return pd.DataFrame({"region": region, "availability_zone": az,
                             "instance_type": "g4dn.xlarge", "product": "Linux/UNIX",
                             "price": [p for _, p in points],
                             "timestamp": [hour - pd.Timedelta(hours=h) for h, _ in points]})

    return pd.concat([
        pool("us-east-1", "us-east-1a", [(160, 0.20), (50, 0.90), (49, 0.20)]),
        pool("us-east-1", "us-east-1b", [(160, 0.18), (3, 0.19)]),
        pool("us-east-1", "us-east-1c", [(160, 0.30), (2, 0.15)]),
        pool("eu-west-1", "eu-west-1a", [(200, 0.25), (100, 0.22), (10, 0.21)]),
    ], ignore_index=True)


def test_replayed_market_ranks_as_the_dataframe_path(replaying: Any) -> None:
    kit = replaying
    market = _known_market(pd.Timestamp.now(tz="UTC"))
    held = kit.sandbox.set_spot_history(market)
    assert held["rows"] == len(market) and held["pools"] == 4
    fetched = spot.history(kit, "g4dn.xlarge", REGIONS, days=7, refresh=True)
    now = pd.Timestamp.now(tz="UTC")
    direct = spot.rank(market, now=now, days=7)
    replayed = spot.rank(fetched, now=now, days=7)
    keys = ["region", "availability_zone", "instance_type"]
    assert replayed[keys].values.tolist() == direct[keys].values.tolist()
    numbers = ["current_price", "mean_price", "max_price", "volatility", "score"]
    pd.testing.assert_frame_equal(replayed[numbers], direct[numbers], atol=1e-9, rtol=0)
    assert direct.iloc[0]["availability_zone"] == "us-east-1b"


def _rank_cases(now: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """test_spot_rank's hand-built cases, moved to end at ``now``'s hour."""
    from test_spot_rank import A, B, C, changes

    week, hour = now.floor("h") - pd.Timedelta(days=7), pd.Timedelta(hours=1)
    spike = now.floor("h") - pd.Timedelta(days=3)
    return {
        "spike": pd.concat([changes(A, (week, 0.20), (spike, 2.00), (spike + hour, 0.20)),
                            changes(B, (week, 0.30))]),
        "long-held": pd.concat([changes(A, (week, 0.50), (week + 144 * hour, 0.10)),
                                changes(B, (week, 0.25), (week + 160 * hour, 0.40))]),
        "ties": pd.concat([changes(B, (week, 0.20)), changes(A, (week, 0.20)),
                           changes(C, (week, 0.20))]),
        "interruption": pd.concat([changes(A, (week, 0.200)), changes(C, (week, 0.190))]),
    }


@pytest.mark.parametrize("case", ["spike", "long-held", "ties", "interruption"])
def test_rank_cases_replayed_rank_the_same(replaying: Any, case: str) -> None:
    from test_spot_rank import FEED

    kit = replaying
    market = _rank_cases(pd.Timestamp.now(tz="UTC"))[case]
    kit.sandbox.set_spot_history(market)
    fetched = spot.history(kit, "g4dn.xlarge", REGIONS, days=7, refresh=True)
    now = pd.Timestamp.now(tz="UTC")
    direct = spot.rank(market, advisor=FEED, now=now, days=7)
    replayed = spot.rank(fetched, advisor=FEED, now=now, days=7)
    keys = ["rank", "region", "availability_zone", "instance_type"]
    assert replayed[keys].values.tolist() == direct[keys].values.tolist()
    numbers = ["current_price", "mean_price", "max_price", "volatility", "score"]
    pd.testing.assert_frame_equal(replayed[numbers], direct[numbers], atol=1e-9, rtol=0)


def test_replay_keeps_pages_and_filters(replaying: Any) -> None:
    kit = replaying
    market = _known_market(pd.Timestamp.now(tz="UTC"))
    kit.sandbox.set_spot_history(market)
    start = market["timestamp"].min() - pd.Timedelta(hours=1)
    everything = kit.call("ec2", "describe_spot_price_history", "us-east-1", refresh=True,
                          StartTime=start.to_pydatetime())["SpotPriceHistory"]
    assert len(everything) == (market["region"] == "us-east-1").sum()
    paged = kit.call("ec2", "describe_spot_price_history", "us-east-1", refresh=True,
                     StartTime=start.to_pydatetime(),
                     PaginationConfig={"PageSize": 2})["SpotPriceHistory"]
    assert paged == everything and kit.sandbox.requests(region="us-east-1") >= 4
    one = kit.call("ec2", "describe_spot_price_history", "us-east-1", refresh=True,
                   StartTime=start.to_pydatetime(),
                   Filters=[{"Name": "availability-zone", "Values": ["us-east-1c"]}])
    assert {i["AvailabilityZone"] for i in one["SpotPriceHistory"]} == {"us-east-1c"}
    kit.sandbox.clear_spot_history()
    assert kit.sandbox.spot_history() == {"replaying": False}
    generated = spot.history(kit, "g4dn.xlarge", ["us-east-1"], days=1, refresh=True)
    assert len(generated) > len(everything)  # the generated market is back


def test_set_spot_history_checks_its_input(kit: Any) -> None:
    market = _known_market(pd.Timestamp.now(tz="UTC"))
    with pytest.raises(SandboxError, match="no column"):
        kit.sandbox.set_spot_history(market.drop(columns="price"))
    with pytest.raises(SandboxError, match="does not serve"):
        kit.sandbox.set_spot_history(market.assign(region="mars-north-1"))
    with pytest.raises(SandboxError, match="non-positive"):
        kit.sandbox.set_spot_history(market.assign(price=0.0))
    assert kit.sandbox.spot_history() == {"replaying": False}


def test_recorded_t3_micro_history_replays(replaying: Any, shared_data: Path) -> None:
    kit = replaying
    recorded = pd.read_csv(shared_data /
                           "spot-price-history-t3.micro-3regions-2025-11-30_2026-02-27.csv")
    market = pd.DataFrame({
        "region": recorded["Region"],
        # the file dropped the AZ column: one pseudo-AZ per region (see SOURCES.md)
        "availability_zone": recorded["Region"] + "-recorded",
        "instance_type": "t3.micro", "price": recorded["SpotPrice"],
        "timestamp": pd.to_datetime(recorded["Timestamp"], utc=True),
    })
    kit.sandbox.set_spot_history(market, shift_to_now=True)
    fetched = spot.history(kit, "t3.micro", ["us-east-1", "us-west-2", "eu-west-1"], days=90,
                           refresh=True)
    assert set(fetched["region"]) == set(market["region"])
    counts = fetched.groupby("region").size()
    expected = market.groupby("region").size()
    assert (counts <= expected).all() and (counts >= expected - 1).all()  # EC2's 90-day edge
    assert fetched.groupby("region")["price"].max().round(6).to_dict() == (
        market.groupby("region")["price"].max().round(6).to_dict())


def test_placement_scores_say_the_sandbox_has_none(kit: Any) -> None:
    before = kit.sandbox.requests()
    scores = spot.placement_scores(kit, TYPES, REGIONS)
    assert scores.empty and "sandbox does not answer GetSpotPlacementScores" in scores.attrs[
        "note"]
    assert kit.sandbox.requests() == before
    with pytest.raises(UsageError, match="target_capacity"):
        spot.placement_scores(kit, TYPES, REGIONS, target_capacity=0)


def test_placement_scores_join_the_ranking() -> None:
    now = pd.Timestamp("2026-06-08", tz="UTC")
    market = _known_market(now)
    placement = pd.DataFrame({"region": ["us-east-1", "eu-west-1"], "availability_zone": None,
                              "placement_score": [1, 10]})
    plain = spot.rank(market, now=now, days=7)
    placed = spot.rank(market, now=now, days=7, placement=placement)
    assert "placement_score" in placed and "placement" in placed.attrs["weights"]
    eu_plain = plain.loc[plain["region"] == "eu-west-1", "rank"].item()
    eu_placed = placed.loc[placed["region"] == "eu-west-1", "rank"].item()
    assert eu_placed < eu_plain


def test_placement_scores_on_an_aws_backend_that_refuses(sandbox: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The AWS path, against an endpoint without GetSpotPlacementScores (the sandbox through
    AWS_ENDPOINT_URL, as botocore allows): the result is empty and says why in one line."""
    import geuse_nb as gn

    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox.endpoint_url("us-east-1"))
    with gn.Kit("aws-like", backend="aws", pool_max_attempts=1) as kit:
        scores = spot.placement_scores(kit, ["g4dn.xlarge"], ["us-east-1"])
    assert scores.empty and list(scores.columns) == ["region", "availability_zone",
                                                     "availability_zone_id", "placement_score"]
    assert scores.attrs["note"].startswith("placement scores: AWS refused GetSpotPlacementScores")


def test_a_failing_region_is_listed_not_dropped(sandbox: Any) -> None:
    import geuse_nb as gn

    sandbox.set_faults(region="eu-west-1", error_rate=1.0)
    try:
        with gn.Kit("faulty", backend="sandbox", sandbox=sandbox, parallel_retry_count=0,
                    pool_max_attempts=1) as kit:
            frame = spot.history(kit, TYPES, REGIONS, days=1)
    finally:
        sandbox.clear_faults()
    assert set(frame["region"]) == {"us-east-1"}
    failed = frame.attrs["failed"]
    assert {f["region"] for f in failed} == {"eu-west-1"} and len(failed) == len(TYPES)
    assert all(f["suggestion"] for f in failed)
