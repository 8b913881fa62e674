"""Compacted responses: equal values, shared strings and instants, cheaper to reload."""

from __future__ import annotations

import datetime as dt
import pickle
from typing import Any

from dateutil import tz

from geuse_nb.aws.responses import compact


def _response(n: int) -> dict[str, Any]:
    when = dt.datetime(2026, 11, 27, 6, 0, tzinfo=tz.tzutc())
    return {"SpotPriceHistory": [
        {"AvailabilityZone": "us-east-1" + "abc"[i % 3], "InstanceType": "m5.large",
         "ProductDescription": "Linux/UNIX", "SpotPrice": f"0.0{i % 7}",
         "Timestamp": when - dt.timedelta(hours=i % 5)} for i in range(n)],
        "Notes": ["".join(["x"] * 100) for _ in range(2)]}  # equal, built apart


def test_compact_keeps_every_value_equal() -> None:
    original, compacted = _response(50), compact(_response(50))
    assert compacted == original
    stamps = [r["Timestamp"] for r in compacted["SpotPriceHistory"]]
    assert all(s.tzinfo is dt.UTC for s in stamps)
    assert stamps[0] is stamps[5]  # one object per instant


def test_compact_shares_short_strings_only() -> None:
    rows = compact(_response(50))["SpotPriceHistory"]
    assert rows[0]["ProductDescription"] is rows[1]["ProductDescription"]
    assert rows[0]["AvailabilityZone"] is rows[3]["AvailabilityZone"]
    notes = compact(_response(2))["Notes"]
    assert notes[0] == notes[1] and notes[0] is not notes[1]


def test_compacted_pickle_is_smaller_and_naive_times_untouched() -> None:
    assert len(pickle.dumps(compact(_response(200)))) < len(pickle.dumps(_response(200))) / 2
    naive = dt.datetime(2026, 1, 1)
    assert compact({"t": naive})["t"].tzinfo is None



def test_subclasses_and_leaves_anywhere_are_compacted_alike() -> None:
    from collections import OrderedDict

    class Tag(str):
        pass

    plus_two = dt.timezone(dt.timedelta(hours=2))
    value = OrderedDict(when=[dt.datetime(2026, 1, 1, 2, tzinfo=plus_two), Tag("a"), True,
                              1.5, None, b"raw", [dt.datetime(2026, 1, 1, tzinfo=tz.tzutc())]],
                        name="zone-a", again=["zone-a"])
    before = {k: list(v) if isinstance(v, list) else v for k, v in value.items()}
    out = compact(value)
    assert out is value and out == before
    first, nested = out["when"][0], out["when"][6][0]
    assert first.tzinfo is dt.UTC and nested.tzinfo is dt.UTC and first is nested
    assert out["again"][0] is out["name"]  # shared through a list and a dict subclass


START = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)


def test_cached_call_returns_the_compacted_value(kit: Any) -> None:
    first = kit.call("ec2", "describe_spot_price_history", "us-east-1",
                     InstanceTypes=["m5.large"], MaxResults=20, StartTime=START,
                     EndTime=START + dt.timedelta(hours=12))
    again = kit.call("ec2", "describe_spot_price_history", "us-east-1",
                     InstanceTypes=["m5.large"], MaxResults=20, StartTime=START,
                     EndTime=START + dt.timedelta(hours=12))
    assert again is first  # the memory tier hands back what the first call returned
    assert all(r["Timestamp"].tzinfo is dt.UTC for r in first["SpotPriceHistory"])
