"""The kit's timestamp parser equals botocore's for every form AWS sends, always aware UTC,
and is the one the kit's clients use."""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime
from typing import Any

import pytest
from botocore.utils import parse_timestamp as botocore_parse
from hypothesis import given, settings
from hypothesis import strategies as st

from geuse_nb.aws._timestamps import parse_timestamp

UTC = dt.UTC
instants = st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2100, 1, 1),
                        timezones=st.just(UTC))
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: dt.timezone(dt.timedelta(minutes=m)))


def same(text: Any) -> dt.datetime:
    """Ours, after checking it equals botocore's (a zone-less value taken as UTC)."""
    ours = parse_timestamp(text)
    theirs = botocore_parse(text)
    if theirs.tzinfo is None:
        theirs = theirs.replace(tzinfo=UTC)
    assert ours == theirs, text
    assert ours.tzinfo is UTC, text
    return ours


@settings(max_examples=300, deadline=None)
@given(instants, st.sampled_from(["seconds", "milliseconds", "microseconds"]))
def test_iso_with_z_and_fractions(when: dt.datetime, spec: str) -> None:
    text = when.replace(tzinfo=None).isoformat(timespec=spec) + "Z"
    assert same(text) == when.replace(
        microsecond=when.microsecond if spec == "microseconds" else
        when.microsecond // 1000 * 1000 if spec == "milliseconds" else 0)


@settings(max_examples=200, deadline=None)
@given(instants, offsets)
def test_iso_with_offsets(when: dt.datetime, zone: dt.timezone) -> None:
    local = when.astimezone(zone)
    assert same(local.isoformat()) == when


@settings(max_examples=100, deadline=None)
@given(instants)
def test_iso_without_zone_is_utc(when: dt.datetime) -> None:
    assert same(when.replace(tzinfo=None).isoformat()) == when


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.integers(min_value=0, max_value=4_102_444_800),
                 st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False)))
def test_epoch_ints_floats_and_strings(seconds: float) -> None:
    same(seconds)
    same(repr(seconds))


@settings(max_examples=100, deadline=None)
@given(instants)
def test_rfc822(when: dt.datetime) -> None:
    text = format_datetime(when.replace(microsecond=0), usegmt=True)
    assert same(text) == when.replace(microsecond=0)


@pytest.mark.parametrize("text", ["2026-01-02T03:04:05.1234567Z", "20260102T030405Z",
                                  "2026-01-02", "2026-01-02T03:04:05.000+00:00"])
def test_edge_forms(text: str) -> None:
    same(text)


def test_nonsense_fails_as_botocore_does() -> None:
    with pytest.raises(ValueError, match="Invalid timestamp"):
        parse_timestamp("yesterday-ish")


def test_kit_clients_use_it(kit: Any) -> None:
    """A spot price history page through the kit's pooled client: stdlib-UTC timestamps,
    the same instants as a plain boto3 client's (dateutil zones)."""
    import boto3

    region = "eu-west-1"
    answer = kit.client("ec2", region).describe_spot_price_history(
        InstanceTypes=["m5.large"], MaxResults=50)
    plain = boto3.Session(**kit.backend.session_kwargs()).client(
        "ec2", region_name=region, endpoint_url=kit.backend.endpoint_url(region))
    try:
        theirs = plain.describe_spot_price_history(InstanceTypes=["m5.large"], MaxResults=50)
    finally:
        plain.close()
    ours_rows = answer["SpotPriceHistory"]
    assert ours_rows and all(r["Timestamp"].tzinfo is UTC for r in ours_rows)
    assert [r["Timestamp"] for r in ours_rows] == [
        r["Timestamp"] for r in theirs["SpotPriceHistory"]]
    assert type(theirs["SpotPriceHistory"][0]["Timestamp"].tzinfo) is not dt.timezone
