"""rank() and recommend() on hand-built histories whose right answers are known (no sandbox)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geuse_nb.errors import UsageError
from geuse_nb.ops import spot

NOW = pd.Timestamp("2026-06-08 00:00", tz="UTC")
WEEK = NOW - pd.Timedelta(days=7)
FEED = {
    "instance_types": {"g4dn.xlarge": {"emr": True, "cores": 4, "ram_gb": 16.0},
                       "g5.xlarge": {"emr": True, "cores": 4, "ram_gb": 16.0},
                       "g4dn.12xlarge": {"emr": True, "cores": 48, "ram_gb": 192.0}},
    "ranges": [{"index": i, "label": lab, "dots": i, "max": m} for i, (lab, m) in enumerate(
        [("<5%", 5), ("5-10%", 11), ("10-15%", 16), ("15-20%", 22), (">20%", 100)])],
    "spot_advisor": {
        "us-east-1": {"Linux": {"g4dn.xlarge": {"s": 60, "r": 0}, "g5.xlarge": {"s": 70, "r": 4},
                                "g4dn.12xlarge": {"s": 65, "r": 1}}},
        "eu-west-1": {"Linux": {"g4dn.xlarge": {"s": 55, "r": 2}}},
    },
}
ON_DEMAND = pd.DataFrame({
    "region": ["us-east-1", "us-east-1", "us-east-1", "eu-west-1"],
    "instance_type": ["g4dn.xlarge", "g5.xlarge", "g4dn.12xlarge", "g4dn.xlarge"],
    "vcpus": [4, 4, 48, 4], "memory_gib": [16.0, 16.0, 192.0, 16.0], "gpus": [1, 1, 4, 1],
    "on_demand_price": [0.526, 1.006, 3.912, 0.587],
})


def changes(pool: tuple[str, str, str], *points: tuple[pd.Timestamp, float]) -> pd.DataFrame:
    region, az, itype = pool
    return pd.DataFrame({"region": region, "availability_zone": az, "instance_type": itype,
                         "product": "Linux/UNIX", "price": [p for _, p in points],
                         "timestamp": [t for t, _ in points]})


A = ("us-east-1", "us-east-1a", "g4dn.xlarge")
B = ("us-east-1", "us-east-1b", "g4dn.xlarge")
C = ("eu-west-1", "eu-west-1a", "g4dn.xlarge")
G5 = ("us-east-1", "us-east-1a", "g5.xlarge")
BIG = ("us-east-1", "us-east-1c", "g4dn.12xlarge")


def row(ranked: pd.DataFrame, pool: tuple[str, str, str]) -> pd.Series:
    mask = ((ranked["region"] == pool[0]) & (ranked["availability_zone"] == pool[1])
            & (ranked["instance_type"] == pool[2]))
    assert mask.sum() == 1
    return ranked[mask].iloc[0]


def test_a_one_hour_spike_does_not_dominate_a_weeks_mean() -> None:
    spike = NOW - pd.Timedelta(days=3)
    hist = changes(A, (WEEK, 0.20), (spike, 2.00), (spike + pd.Timedelta(hours=1), 0.20))
    got = row(spot.rank(hist, now=NOW, days=7), A)
    expected = (0.20 * 167 + 2.00 * 1) / 168
    assert got["mean_price"] == pytest.approx(expected)
    assert got["mean_price"] < 0.22  # a plain mean of the three rows would say 0.80
    assert got["max_price"] == pytest.approx(2.00)
    assert got["current_price"] == pytest.approx(0.20)


def test_a_long_held_price_dominates() -> None:
    hist = changes(A, (WEEK, 0.50), (NOW - pd.Timedelta(days=1), 0.10),
                   (NOW - pd.Timedelta(hours=23), 0.11), (NOW - pd.Timedelta(hours=22), 0.12))
    got = row(spot.rank(hist, now=NOW, days=7), A)
    expected = (0.50 * 144 + 0.10 * 1 + 0.11 * 1 + 0.12 * 22) / 168
    assert got["mean_price"] == pytest.approx(expected)
    weights = np.array([144, 1, 1, 22]) / 168
    prices = np.array([0.50, 0.10, 0.11, 0.12])
    std = np.sqrt((weights * (prices - expected) ** 2).sum())
    assert got["volatility"] == pytest.approx(std / expected)


def test_now_decides_the_current_price_and_ignores_later_rows() -> None:
    later = NOW + pd.Timedelta(hours=5)
    hist = changes(A, (WEEK, 0.30), (NOW - pd.Timedelta(hours=12), 0.25), (later, 9.99))
    got = row(spot.rank(hist, now=NOW, days=7), A)
    assert got["current_price"] == pytest.approx(0.25)
    assert got["max_price"] == pytest.approx(0.30)
    earlier = row(spot.rank(hist, now=NOW - pd.Timedelta(days=1), days=6), A)
    assert earlier["current_price"] == pytest.approx(0.30)
    # naive datetimes are UTC, and strings work
    same = row(spot.rank(hist, now=dt.datetime(2026, 6, 8), days=7), A)
    assert same["mean_price"] == pytest.approx(got["mean_price"])
    with pytest.raises(UsageError, match="no price at or before"):
        spot.rank(hist, now=WEEK - pd.Timedelta(days=1))


def test_window_starts_at_the_first_row_or_now_minus_days() -> None:
    old = NOW - pd.Timedelta(days=30)
    hist = changes(A, (old, 1.00), (NOW - pd.Timedelta(days=1), 0.10))
    clipped = row(spot.rank(hist, now=NOW, days=2), A)
    assert clipped["mean_price"] == pytest.approx((1.00 + 0.10) / 2)
    whole = row(spot.rank(hist, now=NOW), A)  # no days anywhere: from the first row
    assert whole["mean_price"] == pytest.approx((1.00 * 29 + 0.10) / 30)
    hist.attrs["days"] = 2  # what history() records
    assert row(spot.rank(hist, now=NOW), A)["mean_price"] == pytest.approx(
        clipped["mean_price"])


def test_interruption_can_overturn_a_small_price_lead_but_not_a_large_one() -> None:
    calm = changes(A, (WEEK, 0.200))  # <5 %
    jumpy = changes(C, (WEEK, 0.190))  # 10-15 %, 5 % cheaper
    ranked = spot.rank(pd.concat([calm, jumpy]), advisor=FEED, now=NOW, days=7)
    assert ranked["availability_zone"].tolist() == ["us-east-1a", "eu-west-1a"]
    cheap = changes(C, (WEEK, 0.100))  # half the price
    ranked = spot.rank(pd.concat([calm, cheap]), advisor=FEED, now=NOW, days=7)
    assert ranked.iloc[0]["availability_zone"] == "eu-west-1a"
    assert ranked["rank"].tolist() == [1, 2]


def test_reference_columns_and_savings() -> None:
    hist = pd.concat([changes(A, (WEEK, 0.2104)), changes(G5, (WEEK, 0.40))])
    ranked = spot.rank(hist, advisor=FEED, on_demand=ON_DEMAND, now=NOW, days=7)
    a = row(ranked, A)
    assert a["savings_pct"] == pytest.approx(60.0)  # 1 − 0.2104 / 0.526
    assert (a["vcpus"], a["memory_gib"], a["gpus"], a["interruption"]) == (4, 16.0, 1, "<5%")
    assert a["price_per_gpu"] == pytest.approx(0.2104)
    assert a["price_per_vcpu"] == pytest.approx(0.0526)
    assert "interruption <5%" in a["reason"] and "60% below on-demand" in a["reason"]
    assert list(ranked.columns[:4]) == ["rank", "region", "availability_zone", "instance_type"]
    for column in ("current_price", "mean_price", "max_price", "volatility", "on_demand_price",
                   "savings_pct", "interruption", "vcpus", "memory_gib", "gpus",
                   "price_per_vcpu", "price_per_gpu", "score", "reason"):
        assert column in ranked


def test_windows_pools_take_savings_from_the_advisor() -> None:
    feed = {**FEED, "spot_advisor": {"us-east-1": {"Windows": {"g4dn.xlarge": {"s": 40, "r": 1}}}}}
    hist = changes(A, (WEEK, 0.40)).assign(product="Windows")
    got = row(spot.rank(hist, advisor=feed, on_demand=ON_DEMAND, now=NOW, days=7), A)
    assert pd.isna(got["on_demand_price"])  # on_demand() is Linux-only
    assert got["savings_pct"] == 40 and got["interruption"] == "5-10%"
    assert got["gpus"] == 1


def test_works_without_advisor_or_on_demand() -> None:
    hist = pd.concat([changes(A, (WEEK, 0.30)), changes(B, (WEEK, 0.20))])
    ranked = spot.rank(hist, now=NOW, days=7)
    assert ranked["availability_zone"].tolist() == ["us-east-1b", "us-east-1a"]
    for column in ("on_demand_price", "interruption", "gpus", "vcpus", "price_per_gpu"):
        assert ranked[column].isna().all(), column
    assert ranked.iloc[0]["score"] == 100.0
    assert "interruption unknown" in ranked.iloc[0]["reason"]
    assert "interruption" not in ranked.attrs["weights"]


def test_filters() -> None:
    hist = pd.concat([changes(A, (WEEK, 0.20)), changes(C, (WEEK, 0.15)),
                      changes(G5, (WEEK, 0.35)), changes(BIG, (WEEK, 1.20))])
    kw = {"advisor": FEED, "on_demand": ON_DEMAND, "now": NOW, "days": 7}

    def pools(**filters: object) -> set[str]:
        ranked = spot.rank(hist, **kw, **filters)  # type: ignore[arg-type]  # test kwargs
        return set(ranked["instance_type"] + "@" + ranked["availability_zone"])

    assert pools(min_gpus=2) == {"g4dn.12xlarge@us-east-1c"}
    assert pools(min_vcpus=8) == {"g4dn.12xlarge@us-east-1c"}
    assert pools(min_memory_gib=100) == {"g4dn.12xlarge@us-east-1c"}
    assert pools(price_cap=0.2) == {"g4dn.xlarge@us-east-1a", "g4dn.xlarge@eu-west-1a"}
    assert pools(max_interruption="5-10%") == {"g4dn.xlarge@us-east-1a",
                                               "g4dn.12xlarge@us-east-1c"}
    assert pools(regions=["eu-west-1"]) == {"g4dn.xlarge@eu-west-1a"}
    assert pools(regions="eu-west-1") == {"g4dn.xlarge@eu-west-1a"}
    assert "g4dn.xlarge@eu-west-1a" not in pools(exclude_regions=["eu-west-1"])
    assert pools(types=r"^g5\.") == {"g5.xlarge@us-east-1a"}
    per_gpu = spot.rank(hist, **kw, price_basis="gpu", weights={"interruption": 0})
    assert per_gpu.iloc[0]["instance_type"] == "g4dn.xlarge"


def test_an_empty_result_names_the_filter_that_emptied_it() -> None:
    hist = pd.concat([changes(A, (WEEK, 0.20)), changes(G5, (WEEK, 0.35))])
    with pytest.raises(spot.NoPoolsLeft, match="min_gpus=8 removed the last 2 of 2") as err:
        spot.rank(hist, on_demand=ON_DEMAND, now=NOW, min_gpus=8)
    assert err.value.filter == "min_gpus" and "gpus 1" in err.value.suggestion
    with pytest.raises(spot.NoPoolsLeft, match="max_interruption") as err:
        spot.rank(hist, advisor=FEED, now=NOW, types="g5", max_interruption="<5%")
    assert err.value.filter == "max_interruption" and ">20%" in err.value.suggestion
    with pytest.raises(spot.NoPoolsLeft, match=r"price_cap=0\.1"):
        spot.rank(hist, now=NOW, price_cap=0.1)
    with pytest.raises(spot.NoPoolsLeft, match="regions"):
        spot.rank(hist, now=NOW, regions=["ap-south-1"])


def test_ties_are_broken_by_price_then_name() -> None:
    hist = pd.concat([changes(B, (WEEK, 0.20)), changes(A, (WEEK, 0.20)),
                      changes(C, (WEEK, 0.20))])
    ranked = spot.rank(hist, now=NOW, days=7)
    assert ranked["score"].nunique() == 1
    assert ranked["availability_zone"].tolist() == ["eu-west-1a", "us-east-1a", "us-east-1b"]
    assert ranked["rank"].tolist() == [1, 2, 3]
    shuffled = spot.rank(hist.sample(frac=1, random_state=3), now=NOW, days=7)
    pd.testing.assert_frame_equal(ranked, shuffled)


@pytest.mark.parametrize("bad, match", [
    ({"max_interruption": "<3%"}, "'<5%'"),
    ({"weights": {"prize": 1}}, "did you mean 'price'"),
    ({"weights": {"price": -1}}, "weight price"),
    ({"min_gpus": -1}, "min_gpus"),
    ({"types": "g4dn.("}, "regular expression"),
    ({"price_basis": "gpus"}, "did you mean 'gpu'"),
    ({"now": "yesterday-ish"}, "now="),
])
def test_bad_arguments_are_usage_errors(bad: dict, match: str) -> None:
    hist = changes(A, (WEEK, 0.2))
    with pytest.raises(UsageError, match=match):
        spot.rank(hist, advisor=FEED, on_demand=ON_DEMAND, **bad)


def test_inputs_a_filter_needs_are_asked_for() -> None:
    hist = changes(A, (WEEK, 0.2))
    with pytest.raises(UsageError, match="advisor"):
        spot.rank(hist, max_interruption="<5%")
    with pytest.raises(UsageError, match="on_demand"):
        spot.rank(hist, min_gpus=1)
    mixed = pd.concat([hist, hist.assign(product="Windows")])
    with pytest.raises(UsageError, match="mixes Linux and Windows"):
        spot.rank(mixed)
    with pytest.raises(UsageError, match="no column"):
        spot.rank(hist.drop(columns="price"))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 7 * 24 - 1), st.floats(0.01, 5.0)), min_size=1,
                max_size=30, unique_by=lambda x: x[0]))
def test_time_weighted_mean_matches_an_hourly_resample(points: list[tuple[int, float]]) -> None:
    """Changes on the hour: the time-weighted mean is the mean of the hourly prices."""
    points = sorted(points)
    hist = changes(A, *((WEEK + pd.Timedelta(hours=h), p) for h, p in points))
    got = row(spot.rank(hist, now=NOW, days=7), A)
    hourly = pd.Series([p for _, p in points],
                       index=[WEEK + pd.Timedelta(hours=h) for h, _ in points])
    grid = hourly.reindex(pd.date_range(WEEK, NOW - pd.Timedelta(hours=1), freq="h")).ffill()
    observed = grid.dropna()
    assert got["mean_price"] == pytest.approx(observed.mean())
    assert got["max_price"] == pytest.approx(observed.max())
    assert got["current_price"] == pytest.approx(points[-1][1])


# ---------------------------------------------------------------- recommend
def many_pools() -> pd.DataFrame:
    rows = []
    for i, (region, az) in enumerate([("us-east-1", "us-east-1a"), ("us-east-1", "us-east-1b"),
                                      ("us-east-1", "us-east-1c"), ("eu-west-1", "eu-west-1a")]):
        for j, itype in enumerate(["g4dn.xlarge", "g5.xlarge"]):
            rows.append(changes((region, az, itype), (WEEK, 0.20 + 0.01 * i + 0.05 * j)))
    return pd.concat(rows)


def test_recommend_spreads_failovers_over_azs_and_regions() -> None:
    ranked = spot.rank(many_pools(), now=NOW, days=7)
    rec = spot.recommend(ranked, fallbacks=3)
    assert rec["role"].tolist() == ["pick", "fallback", "fallback", "fallback"]
    assert rec.iloc[0]["availability_zone"] == ranked.iloc[0]["availability_zone"]
    assert rec["availability_zone"].is_unique
    assert rec["region"].nunique() == 2  # the last try is another region
    assert "another region (eu-west-1)" in rec.iloc[-1]["why"]
    assert all(rec["why"].str.len() > 10)
    assert rec.attrs["summary"].startswith("Launch g4dn.xlarge in us-east-1a")
    plain = spot.recommend(ranked, fallbacks=3, diversify=False)
    assert plain["rank"].tolist() == [1, 2, 3, 4]


def test_recommend_uses_other_types_when_azs_run_out() -> None:
    ranked = spot.rank(many_pools(), now=NOW, days=7, regions=["us-east-1"])
    rec = spot.recommend(ranked, n=2, fallbacks=3)
    assert rec["role"].tolist() == ["pick", "pick", "fallback", "fallback", "fallback"]
    assert len(set(zip(rec["availability_zone"], rec["instance_type"], strict=True))) == 5
    assert set(rec["instance_type"]) == {"g4dn.xlarge", "g5.xlarge"}
    with pytest.raises(UsageError, match="fallbacks"):
        spot.recommend(ranked, fallbacks=-1)
    with pytest.raises(UsageError, match="rank"):
        spot.recommend(pd.DataFrame({"x": [1]}))
