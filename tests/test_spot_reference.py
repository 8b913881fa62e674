"""advisor() and on_demand(): the project's table, files, URLs (24 h on disk), and agreement
with the public reference data in ../shared/data (skipped with a reason when it is absent)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from geuse_nb.errors import UsageError
from geuse_nb.ops import spot
from geuse_nb.ops.spot._reference import os_key
from geuse_nb.sandbox.market import data_dir, load_offers

CATALOG = "aws-vms-catalog-subset.csv"


def test_advisor_from_the_table_has_the_feeds_shape() -> None:
    feed = spot.advisor()
    assert set(feed) >= {"instance_types", "ranges", "spot_advisor"}
    assert [r["label"] for r in feed["ranges"]] == list(spot.INTERRUPTION_LABELS)
    entry = feed["spot_advisor"]["us-east-1"]["Linux"]["g4dn.xlarge"]
    assert set(entry) == {"s", "r"} and 0 <= entry["r"] <= 4 and 0 < entry["s"] < 100
    assert feed["instance_types"]["g4dn.xlarge"] == {"emr": False, "cores": 4, "ram_gb": 16.0}
    assert "Windows" in feed["spot_advisor"]["us-east-1"]


def test_on_demand_from_the_table() -> None:
    table = spot.on_demand()
    assert list(table.columns) == ["region", "instance_type", "vcpus", "memory_gib", "gpus",
                                   "on_demand_price"]
    g4 = table[(table["region"] == "us-east-1") & (table["instance_type"] == "g4dn.12xlarge")]
    assert g4[["vcpus", "gpus"]].values.tolist() == [[48, 4]]
    assert (table["on_demand_price"] > 0).all() and not table.duplicated(
        ["region", "instance_type"]).any()


@pytest.mark.parametrize("product, key", [("Linux/UNIX", "Linux"),
                                          ("Linux/UNIX (Amazon VPC)", "Linux"),
                                          ("Windows", "Windows"),
                                          ("Windows (Amazon VPC)", "Windows")])
def test_products_map_to_the_feeds_os_keys(product: str, key: str) -> None:
    assert os_key(product) == key


def test_bad_sources_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no file"):
        spot.advisor(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"spot_advisor": {}}))
    with pytest.raises(UsageError, match="instance_types, ranges"):
        spot.advisor(bad)
    bad.write_text("not json")
    with pytest.raises(UsageError, match="not JSON"):
        spot.advisor(bad)
    csv = tmp_path / "prices.csv"
    csv.write_text("region,instance_type\nus-east-1,m5.large\n")
    with pytest.raises(UsageError, match="on_demand_price"):
        spot.on_demand(csv)
    with pytest.raises(UsageError, match="OS"):
        os_key("Red Hat Enterprise Linux")


@pytest.fixture()
def feed_server(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server of one feed; yields its URL and the paths it served."""
    served: list[str] = []
    body = json.dumps(spot.advisor()).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="feed-server")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/spot-advisor-data.json", served
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_feed_url_is_fetched_once_a_day(feed_server: tuple[str, list[str]]) -> None:
    url, served = feed_server
    first = spot.advisor(url)
    second = spot.advisor(url)
    assert first == second == json.loads(json.dumps(spot.advisor()))
    assert served == ["/spot-advisor-data.json"]  # the second came from disk


# ---------------------------------------------------------------- ../shared/data
def test_table_carries_the_catalogs_prices(shared_data: Path) -> None:
    catalog = pd.read_csv(shared_data / CATALOG)
    od = catalog.drop_duplicates(["Region", "InstanceType"]).set_index(
        ["Region", "InstanceType"])
    table = pd.read_csv(data_dir() / "spot_market.csv")
    assert len(table) > 1000
    for row in table.itertuples():
        assert od.loc[(row.region, row.instance_type), "Price"] == pytest.approx(
            row.ondemand_linux, abs=1e-9)
        assert od.loc[(row.region, row.instance_type), "vCPUs"] == row.vcpu
    mine = spot.on_demand()
    theirs = spot.on_demand(shared_data / CATALOG)  # the catalog through on_demand(source)
    both = mine.merge(theirs, on=["region", "instance_type"], suffixes=("", "_catalog"))
    assert len(both) == len(mine)
    assert (both["on_demand_price"] - both["on_demand_price_catalog"]).abs().max() < 1e-9
    assert (both["gpus"] == both["gpus_catalog"]).all()
    # every AZ level the sandbox uses is the catalog's spot price for that AZ id
    levels = catalog.dropna(subset=["SpotPrice"]).set_index(
        ["Region", "InstanceType", "AvailabilityZone"])["SpotPrice"]
    for (region, itype), offer in load_offers().items():
        for zone_id, price in offer.spot_by_az.items():
            assert levels[(region, itype, zone_id)] == pytest.approx(price, abs=1e-9)


def test_cheapest_current_pools_agree_with_pandas(shared_data: Path) -> None:
    catalog = pd.read_csv(shared_data / CATALOG).dropna(subset=["SpotPrice"])
    when = pd.Timestamp("2026-01-01", tz="UTC")
    snapshot = pd.DataFrame({
        "region": catalog["Region"], "availability_zone": catalog["AvailabilityZone"],
        "instance_type": catalog["InstanceType"], "product": "Linux/UNIX",
        "price": catalog["SpotPrice"], "timestamp": when,
    })
    ranked = spot.rank(snapshot, now=when + pd.Timedelta(hours=1),
                       on_demand=spot.on_demand(shared_data / CATALOG),
                       weights={"mean_price": 0, "volatility": 0, "interruption": 0})
    ours = ranked.sort_values("rank").groupby("instance_type").head(1).set_index(
        "instance_type")
    cheapest = catalog.groupby("InstanceType")["SpotPrice"].min()
    assert set(ours.index) == set(cheapest.index)
    for itype, price in cheapest.items():
        assert ours.loc[itype, "current_price"] == pytest.approx(price)
        tied = catalog[(catalog["InstanceType"] == itype) & (catalog["SpotPrice"] == price)]
        assert (ours.loc[itype, "region"], ours.loc[itype, "availability_zone"]) in set(
            zip(tied["Region"], tied["AvailabilityZone"], strict=True))
    top = ours.loc["g4dn.xlarge"]
    row = catalog[(catalog["Region"] == top["region"])
                  & (catalog["AvailabilityZone"] == top["availability_zone"])
                  & (catalog["InstanceType"] == "g4dn.xlarge")].iloc[0]
    assert top["savings_pct"] == pytest.approx(100 * (1 - row["SpotPrice"] / row["Price"]),
                                               abs=0.05)


def test_the_real_advisor_feed_reads_and_ranks(shared_data: Path) -> None:
    feed = spot.advisor(shared_data / "spot-advisor-data.json")
    assert len(feed["spot_advisor"]) >= 30
    when = pd.Timestamp("2026-01-01", tz="UTC")
    hist = pd.DataFrame({"region": ["us-east-1", "eu-west-1"],
                         "availability_zone": ["us-east-1a", "eu-west-1a"],
                         "instance_type": "g4dn.xlarge", "price": [0.2, 0.2],
                         "timestamp": when})
    ranked = spot.rank(hist, advisor=feed, now=when)
    expected = {r: spot.INTERRUPTION_LABELS[feed["spot_advisor"][r]["Linux"]["g4dn.xlarge"]["r"]]
                for r in ("us-east-1", "eu-west-1")}
    assert dict(zip(ranked["region"], ranked["interruption"].astype(str), strict=True)) == \
        expected
