"""Rollout plans: order, waves, percentages, strict vs soft concurrency, bad input (no kit)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geuse_nb.errors import UsageError
from geuse_nb.ops import rollout

SEVEN = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2",
         "eu-central-1"]


def test_order_puts_named_regions_first_then_the_rest_as_given() -> None:
    p = rollout.plan(SEVEN, order=["eu-central-1", "us-west-2"])
    assert p.regions == ["eu-central-1", "us-west-2", "us-east-1", "us-east-2", "us-west-1",
                         "eu-west-1", "eu-west-2"]
    frame = p.frame()
    assert frame["order"].tolist() == list(range(1, 8))
    assert frame["region"].tolist() == p.regions


def test_percentages_round_down_and_concurrency_is_at_least_one() -> None:
    p = rollout.plan(SEVEN, max_concurrent="25%", failure_tolerance="30%")
    assert p.limits(1) == (1, 2)  # 7 × 25 % = 1.75 → 1; 7 × 30 % = 2.1 → 2
    assert rollout.plan(SEVEN, max_concurrent="50%").limits(1)[0] == 3
    assert rollout.plan(SEVEN, max_concurrent="1%").limits(1)[0] == 1  # 0.07 → 0 → at least 1
    assert rollout.plan(SEVEN, failure_tolerance="10%").limits(1)[1] == 0


@given(n=st.integers(1, 17), percent=st.integers(1, 100))
def test_percentage_of_a_wave_is_floor_but_never_zero_concurrency(n: int, percent: int) -> None:
    p = rollout.plan(_regions(n), max_concurrent=f"{percent}%",
                     failure_tolerance=f"{percent}%", mode="soft")
    most, tolerance = p.limits(1)
    assert most == max(1, n * percent // 100)
    assert tolerance == n * percent // 100


def _regions(n: int) -> list[str]:
    from geuse_nb.sandbox.regions import DEFAULT_REGIONS

    return list(DEFAULT_REGIONS[:n])


def test_strict_starts_at_tolerance_plus_one_and_lowers_as_failures_arrive() -> None:
    strict = rollout.plan(SEVEN, max_concurrent=8, failure_tolerance=2)
    assert [strict.concurrency(1, f) for f in range(4)] == [3, 2, 1, 0]
    soft = rollout.plan(SEVEN, max_concurrent=5, failure_tolerance=2, mode="soft")
    assert [soft.concurrency(1, f) for f in range(4)] == [5, 5, 5, 0]
    assert rollout.plan(SEVEN, max_concurrent=8, failure_tolerance=1).concurrency(1, 0) == 2
    assert rollout.plan(SEVEN, mode="SOFT_FAILURE_TOLERANCE").mode is rollout.Mode.SOFT


def test_waves_derived_smaller_first_or_explicit_with_limits_per_wave() -> None:
    p = rollout.plan(SEVEN, waves=3, max_concurrent="50%")
    assert [len(w) for w in p.waves] == [2, 2, 3]
    assert [p.limits(w)[0] for w in (1, 2, 3)] == [1, 1, 1]
    explicit = rollout.plan(SEVEN, waves=[["eu-west-1"], [r for r in SEVEN if r != "eu-west-1"]])
    assert explicit.waves[0] == ("eu-west-1",)
    assert explicit.wave_of("us-east-1") == 2
    assert explicit.frame()["wave"].tolist() == [1, 2, 2, 2, 2, 2, 2]
    html = explicit._repr_html_()
    assert "eu-west-1" in html and "2 waves" in html


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"regions": ["us-east-1", "eu-wset-1"]}, "eu-west-1"),  # did you mean
    ({"regions": []}, "no regions"),
    ({"regions": "us-east-1"}, "not a list"),
    ({"regions": ["us-east-1", "us-east-1"]}, "more than once"),
    ({"regions": SEVEN, "failure_tolerance": 8}, "larger than the 7 regions"),
    ({"regions": SEVEN, "failure_tolerance": -1}, "below 0"),
    ({"regions": SEVEN, "max_concurrent": "25"}, "not a count or a percentage"),
    ({"regions": SEVEN, "max_concurrent": "abc%"}, "not a count or a percentage"),
    ({"regions": SEVEN, "max_concurrent": "150%"}, "outside 1%–100%"),
    ({"regions": SEVEN, "max_concurrent": "0%"}, "outside 1%–100%"),
    ({"regions": SEVEN, "max_concurrent": 0}, "below 1"),
    ({"regions": SEVEN, "max_concurrent": True}, "not a count"),
    ({"regions": SEVEN, "mode": "strcit"}, "strict"),
    ({"regions": SEVEN, "order": ["ap-south-1"]}, "not in regions"),
    ({"regions": SEVEN, "waves": 9}, "between 1 and the 7"),
    ({"regions": SEVEN, "waves": [SEVEN[:3], SEVEN[2:]]}, "more than one wave"),
    ({"regions": SEVEN, "waves": [SEVEN[:3]]}, "in no wave"),
])
def test_bad_input_is_a_usage_error_naming_it(kwargs: dict[str, object], needle: str) -> None:
    regions = kwargs.pop("regions")
    with pytest.raises(UsageError) as caught:
        rollout.plan(regions, **kwargs)  # type: ignore[arg-type]
    assert needle in str(caught.value)
    assert caught.value.suggestion
