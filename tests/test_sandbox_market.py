"""The spot market, network model and region helpers, in-process (no sandbox child)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from geuse_nb.errors import GeuseError, SandboxError
from geuse_nb.sandbox.market import MarketError, Query, SpotMarket, data_dir, load_offers
from geuse_nb.sandbox.network import NetworkModel
from geuse_nb.sandbox.regions import DEFAULT_REGIONS, check_region, default_rtt, resolve_rtts

# {name: id} as moto's DescribeAvailabilityZones reports them (the sandbox's mapping)
ZONES = {"us-east-1": {"us-east-1a": "use1-az6", "us-east-1b": "use1-az1",
                       "us-east-1c": "use1-az2", "us-east-1e": "use1-az3"},
         "eu-west-1": {"eu-west-1a": "euw1-az3", "eu-west-1b": "euw1-az1"}}
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def offers() -> dict:
    return load_offers()


def _query(**params: str) -> Query:
    return Query.from_params({k: [v] for k, v in params.items()})


def test_table_covers_runbook_families_and_regions() -> None:
    path = data_dir() / "spot_market.csv"
    assert path.stat().st_size < 250_000
    rows = list(csv.DictReader(path.open()))
    regions = {r["region"] for r in rows}
    families = {r["instance_type"].split(".")[0] for r in rows}
    assert len(regions) >= 12
    assert {"g4dn", "g5", "g5g", "g6", "g6e", "p3", "p4d", "p5", "inf2", "m5", "m6i", "m7i",
            "c5", "c6i", "r5", "t3"} <= families
    g4 = next(r for r in rows if r["region"] == "us-east-1" and r["instance_type"] == "g4dn.xlarge")
    assert (g4["vcpu"], g4["gpus"]) == ("4", "1")
    assert all(r["price_source"] for r in rows)
    zones = [z.split(":")[0] for r in rows for z in r["spot_by_az"].split()]
    assert zones and all(z.count("-") == 1 and "-az" in z for z in zones)  # ids, no Local Zones


def test_table_rebuilds_identically_from_shared_data(shared_data: Path, tmp_path: Path) -> None:
    import runpy

    module = runpy.run_path(str(data_dir() / "build_market_table.py"))
    out = tmp_path / "rebuilt.csv"
    assert module["main"](["--shared", str(shared_data), "--out", str(out)]) == 0
    assert out.read_bytes() == (data_dir() / "spot_market.csv").read_bytes()


def test_same_seed_same_history_whatever_the_query_order(offers: dict) -> None:
    q = _query(**{"InstanceType.1": "g4dn.xlarge", "StartTime": "2026-05-25T00:00:00Z"})
    a = SpotMarket(7, ZONES, offers)
    b = SpotMarket(7, ZONES, offers)
    b.describe("eu-west-1", _query(**{"InstanceType.1": "m5.large"}), now=NOW)  # other query first
    assert a.describe("us-east-1", q, now=NOW) == b.describe("us-east-1", q, now=NOW)
    assert SpotMarket(8, ZONES, offers).describe("us-east-1", q, now=NOW) != a.describe(
        "us-east-1", q, now=NOW)


def test_prices_are_plausible_and_differ_by_az(offers: dict) -> None:
    market = SpotMarket(7, ZONES, offers)
    items, _ = market.describe("us-east-1", _query(**{
        "InstanceType.1": "g4dn.xlarge", "ProductDescription.1": "Linux/UNIX",
        "StartTime": "2026-05-25T12:00:00Z"}), now=NOW)
    offer = offers[("us-east-1", "g4dn.xlarge")]
    by_az: dict[str, list[float]] = {}
    for item in items:
        by_az.setdefault(item["availabilityZone"], []).append(float(item["spotPrice"]))
    # use1-az3 (us-east-1e) has no catalog price for g4dn.xlarge: it does not offer it
    assert set(by_az) == {"us-east-1a", "us-east-1b", "us-east-1c"}
    assert all(len(p) >= 20 for p in by_az.values())  # a change every few hours over 7 days
    for az, prices in by_az.items():  # the walk wanders around the AZ's real level
        level = offer.spot_by_az[ZONES["us-east-1"][az]]
        assert all(0.7 * level < p <= offer.ondemand_linux for p in prices)
        assert 0.85 * level < sum(prices) / len(prices) < 1.15 * level
    means = [sum(p) / len(p) for p in by_az.values()]
    assert len({round(m, 4) for m in means}) == len(means)
    windows, _ = market.describe("us-east-1", _query(**{
        "InstanceType.1": "g4dn.xlarge", "ProductDescription.1": "Windows"}), now=NOW)
    assert min(float(i["spotPrice"]) for i in windows) > min(
        p for ps in by_az.values() for p in ps)


def test_time_window_filters_and_pages(offers: dict) -> None:
    market = SpotMarket(7, ZONES, offers)
    params = {"InstanceType.1": "t3.micro", "StartTime": "2026-05-30T00:00:00Z",
              "EndTime": "2026-05-31T00:00:00Z", "Filter.1.Name": "availability-zone",
              "Filter.1.Value.1": "us-east-1b", "Filter.2.Name": "product-description",
              "Filter.2.Value.1": "Linux/UNIX*"}
    items, token = market.describe("us-east-1", _query(**params), now=NOW)
    assert token is None and items
    assert {i["availabilityZone"] for i in items} == {"us-east-1b"}
    assert {i["productDescription"] for i in items} == {"Linux/UNIX", "Linux/UNIX (Amazon VPC)"}
    stamps = sorted(i["timestamp"] for i in items)
    assert stamps[-1] <= "2026-05-31T00:00:00"
    assert sum(s < "2026-05-30T00:00:00" for s in stamps) <= 2  # the price in force at start
    pages, token, seen = 0, None, []
    while True:
        page_params = {**params, "MaxResults": "3", **({"NextToken": token} if token else {})}
        page, token = market.describe("us-east-1", _query(**page_params), now=NOW)
        seen += page
        pages += 1
        if not token:
            break
    assert seen == items and pages > 1


def test_bad_market_input_gets_ec2_error_codes(offers: dict) -> None:
    market = SpotMarket(7, ZONES, offers)
    assert market.describe("us-east-1", _query(**{"InstanceType.1": "zz9.mega"}),
                           now=NOW) == ([], None)
    with pytest.raises(MarketError) as err:
        _query(**{"Filter.1.Name": "colour", "Filter.1.Value.1": "x"})
    assert err.value.code == "InvalidParameterValue"
    with pytest.raises(MarketError):
        _query(MaxResults="5000")
    with pytest.raises(MarketError) as err:
        market.describe("us-east-1", _query(NextToken="nonsense"), now=NOW)
    assert err.value.code == "InvalidNextToken"


def test_default_rtts_follow_distance() -> None:
    rtts = resolve_rtts(DEFAULT_REGIONS, "us-east-1", None)
    assert rtts["us-east-1"] < rtts["us-east-2"] < rtts["eu-west-1"] < rtts["ap-southeast-2"]
    assert 0.05 < default_rtt("us-east-1", "eu-west-1") < 0.1
    assert set(resolve_rtts(DEFAULT_REGIONS, "us-east-1", 0.0).values()) == {0.0}
    with pytest.raises(SandboxError, match="rtt"):
        resolve_rtts(DEFAULT_REGIONS, "us-east-1", -1)


def test_unknown_region_names_the_closest() -> None:
    with pytest.raises(GeuseError, match="us-east-1"):  # UsageError since the layout change
        check_region("us-eats-1", DEFAULT_REGIONS)


def test_fault_draws_are_seeded() -> None:
    def draws(seed: int) -> list[str | None]:
        model = NetworkModel(["us-east-1"], {"us-east-1": 0.0}, 2.0, seed)
        model.set_faults(throttle_rate=0.3, error_rate=0.1)
        return [model.draw("us-east-1") for _ in range(400)]

    first = draws(1)
    assert first == draws(1) and first != draws(2)
    assert 0.2 < first.count("throttle") / 400 < 0.4
    assert 0.04 < first.count("error") / 400 < 0.16
    with pytest.raises(SandboxError, match="outage"):
        NetworkModel(["us-east-1"], {"us-east-1": 0.0}).set_faults(outage="flood")


def test_data_dir_env_then_checkout_then_installed_prefix(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    import geuse_nb.sandbox.market as market

    monkeypatch.setenv("GEUSE_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path
    monkeypatch.delenv("GEUSE_DATA_DIR")
    assert data_dir() == Path(market.__file__).resolve().parents[2] / "data"  # this checkout
    fake_pkg = tmp_path / "site" / "geuse_nb" / "sandbox"
    fake_pkg.mkdir(parents=True)
    monkeypatch.setattr(market, "__file__", str(fake_pkg / "market.py"))  # as in a wheel
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv"))
    assert data_dir() == tmp_path / "venv" / "share" / "geuse_nb"
