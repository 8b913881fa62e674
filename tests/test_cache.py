"""The tiered cache on its own: keys, TTLs, tiers, eviction, compression, stats, memoize."""

from __future__ import annotations

import datetime as dt
import logging
import os
import pickle
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geuse_nb.cache.keys import make_key
from geuse_nb.cache.tiered import CacheLookup, TieredCache
from geuse_nb.config import Settings, resolve_settings
from geuse_nb.errors import GeuseError, UsageError
from geuse_nb.kinds import is_read_operation, kind_of

SCOPE = "sandbox:http://127.0.0.1:1:default"


class Clock:
    """A clock the test moves by hand (no sleeping)."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture()
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def build(**kw: Any) -> Settings:
        kw.setdefault("cache_dir", tmp_path / "cache")
        return resolve_settings(**kw)

    return build


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def make_cache(make_settings: Callable[..., Settings], clock: Clock):  # type: ignore[no-untyped-def]
    made: list[TieredCache] = []

    def build(**kw: Any) -> TieredCache:
        policy = kw.pop("disk_eviction_policy", "least-recently-stored")
        cache = TieredCache(make_settings(**kw), clock=clock, disk_eviction_policy=policy)
        made.append(cache)
        return cache

    yield build
    for cache in made:
        cache.close()


def key(name: str = "x", scope: str = SCOPE, **params: Any) -> str:
    return make_key(scope=scope, region="us-east-1", service="ec2",
                    operation="describe_instances", params={"name": name, **params})


def response(n: int = 120) -> dict[str, Any]:
    """A describe-like response: repetitive, so it compresses well."""
    return {"Reservations": [{"Instances": [{
        "InstanceId": f"i-{i:017x}", "InstanceType": "m5.large", "State": {"Name": "running"},
        "LaunchTime": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "PrivateDnsName": f"ip-10-0-{i % 256}-{i // 256}.ec2.internal",
        "Tags": [{"Key": "Name", "Value": f"node-{i}"}],
    }]} for i in range(n)], "ResponseMetadata": {"HTTPStatusCode": 200}}


# ---------------------------------------------------------------- keys
def test_key_is_readable_and_normalises_params() -> None:
    a = make_key(scope=SCOPE, region="eu-west-1", service="ec2",
                 operation="describe_spot_price_history",
                 params={"InstanceTypes": ("m5.large", "c5.large"), "B": {"y": 1, "x": 2},
                         "StartTime": dt.datetime(2026, 1, 1, 12, 0)})
    b = make_key(scope=SCOPE, region="eu-west-1", service="EC2",
                 operation="DescribeSpotPriceHistory",
                 params={"StartTime": dt.datetime(2026, 1, 1, 13, 0,
                                                  tzinfo=dt.timezone(dt.timedelta(hours=1))),
                         "B": {"x": 2, "y": 1}, "InstanceTypes": ["m5.large", "c5.large"]})
    assert a == b
    assert a.startswith("ec2.describe_spot_price_history@eu-west-1:")
    assert make_key(scope=SCOPE, region=None, service="ec2", operation="describe-regions",
                    params={}).startswith("ec2.describe_regions@-:")


def test_key_differs_by_every_part() -> None:
    base = {"scope": SCOPE, "region": "us-east-1", "service": "ec2",
            "operation": "describe_instances", "params": {"MaxResults": 5}}
    variants = [
        {"scope": "sandbox:http://127.0.0.1:1:other"}, {"region": "us-west-2"},
        {"service": "autoscaling"}, {"operation": "describe_volumes"},
        {"params": {"MaxResults": 6}}, {"params": {"MaxResults": "5"}},
        {"params": {"MaxResults": 5.0}}, {"params": {"MaxResults": True}},
        {"params": {"MaxResults": [5]}},
    ]
    keys = {make_key(**base)} | {make_key(**{**base, **v}) for v in variants}
    assert len(keys) == len(variants) + 1


def test_key_sets_sorted_dates_and_mixed_keys() -> None:
    one = make_key(scope=SCOPE, region="r", service="s", operation="get_x",
                   params={"Ids": {"b", "a", "c"}, "Day": dt.date(2026, 1, 2),
                           "M": {1: "a", "2": "b"}})
    two = make_key(scope=SCOPE, region="r", service="s", operation="get_x",
                   params={"M": {"2": "b", 1: "a"}, "Day": dt.date(2026, 1, 2),
                           "Ids": frozenset({"c", "a", "b"})})
    assert one == two


def test_key_is_stable_across_processes() -> None:
    code = ("from geuse_nb.cache.keys import make_key; import datetime as d; print(make_key("
            "scope='s', region='r', service='ec2', operation='describe_x', "
            "params={'b': {3, 1, 2}, 'a': d.datetime(2026, 1, 1)}))")
    here = make_key(scope="s", region="r", service="ec2", operation="describe_x",
                    params={"a": dt.datetime(2026, 1, 1), "b": {2, 3, 1}})
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, env={**os.environ, "PYTHONHASHSEED": seed},
                             cwd=Path(__file__).resolve().parents[1])
        assert out.stdout.strip() == here


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(max_size=8),
                       st.one_of(st.integers(), st.text(max_size=8), st.booleans(),
                                 st.lists(st.integers(), max_size=4)), max_size=6),
       st.randoms())
def test_key_ignores_param_order(params: dict[str, Any], rnd: Any) -> None:
    items = list(params.items())
    rnd.shuffle(items)
    assert key(**{"p": params}) == key(**{"p": dict(items)})


def test_key_refuses_unkeyable_params() -> None:
    with pytest.raises(UsageError, match="cannot build a cache key") as err:
        make_key(scope=SCOPE, region="r", service="ec2", operation="describe_x",
                 params={"client": object()})
    assert "plain values" in str(err.value)


@pytest.mark.parametrize(("service", "operation", "kind"), [
    ("ec2", "describe_regions", "regions"),
    ("ec2", "DescribeAvailabilityZones", "availability_zones"),
    ("ec2", "describe-instance-types", "instance_types"),
    ("ec2", "describe_instance_type_offerings", "instance_types"),
    ("ec2", "describe_spot_price_history", "spot_prices"),
    ("ec2", "describe_instances", None),
    ("s3", "describe_regions", None),
])
def test_kind_of(service: str, operation: str, kind: str | None) -> None:
    assert kind_of(service, operation) == kind


@pytest.mark.parametrize(("operation", "read"), [
    ("describe_instances", True), ("DescribeInstances", True), ("describe-instances", True),
    ("get_caller_identity", True), ("ListStacks", True), ("list-metrics", True),
    ("run_instances", False), ("CreateStack", False), ("delete-stack", False),
    ("getaway", False), ("describer", False),
])
def test_is_read_operation(operation: str, read: bool) -> None:
    assert is_read_operation(operation) is read


# ---------------------------------------------------------------- tiers, TTL
def test_miss_store_hit_memory_then_disk(make_cache: Callable[..., TieredCache]) -> None:
    cache = make_cache()
    k = key()
    assert cache.lookup(k) == CacheLookup(False)
    assert cache.store(k, {"a": 1}) is True
    assert cache.lookup(k) == CacheLookup(True, {"a": 1}, "memory", False)
    cache.clear("memory")
    assert cache.lookup(k) == CacheLookup(True, {"a": 1}, "disk", False)
    assert cache.lookup(k).tier == "memory"  # the disk read filled the memory tier
    assert k in cache


def test_none_is_a_value(make_cache: Callable[..., TieredCache]) -> None:
    cache = make_cache()
    cache.store(key(), None)
    assert cache.lookup(key()).hit
    cache.clear("memory")
    assert cache.lookup(key()) == CacheLookup(True, None, "disk", False)


def test_ttl_expiry_in_both_tiers(make_cache: Callable[..., TieredCache], clock: Clock) -> None:
    cache = make_cache()
    cache.store(key(), 1, ttl=60)
    clock.advance(59)
    assert cache.lookup(key()).hit
    cache.clear("memory")
    assert cache.lookup(key()).tier == "disk"
    clock.advance(2)
    assert not cache.lookup(key()).hit  # memory copy expired
    cache.clear("memory")
    assert not cache.lookup(key()).hit  # disk copy expired too


def test_disk_fill_keeps_remaining_ttl(make_cache: Callable[..., TieredCache],
                                       clock: Clock) -> None:
    cache = make_cache()
    cache.store(key(), 1, ttl=100)
    cache.clear("memory")
    clock.advance(90)
    assert cache.lookup(key()).tier == "disk"
    clock.advance(11)  # 101 s after the write: the promoted copy must not live 100 s more
    assert not cache.lookup(key()).hit


def test_ttl_by_kind_and_per_call_override(make_cache: Callable[..., TieredCache],
                                           clock: Clock) -> None:
    cache = make_cache(cache_kind_ttls={"spot_prices": 10}, cache_default_ttl=30)
    cache.store(key("spot"), 1, kind="spot_prices")
    cache.store(key("regions"), 1, kind="regions")          # 24 h default kind TTL
    cache.store(key("default"), 1)                          # cache_default_ttl
    cache.store(key("override"), 1, kind="regions", ttl=5)  # per-call ttl wins
    clock.advance(6)
    assert not cache.lookup(key("override"), kind="regions").hit
    assert cache.lookup(key("spot"), kind="spot_prices").hit
    clock.advance(5)
    assert not cache.lookup(key("spot"), kind="spot_prices").hit
    assert cache.lookup(key("default")).hit
    clock.advance(20)
    assert not cache.lookup(key("default")).hit
    assert cache.lookup(key("regions"), kind="regions").hit
    clock.advance(86_400)
    assert not cache.lookup(key("regions"), kind="regions").hit


def test_ttl_zero_means_not_cached_and_bad_ttl_is_refused(
        make_cache: Callable[..., TieredCache]) -> None:
    cache = make_cache()
    assert cache.store(key(), 1, ttl=0) is False
    assert not cache.lookup(key()).hit
    for bad in (-1, float("nan"), "10", True):
        with pytest.raises(UsageError, match="ttl="):
            cache.store(key(), 1, ttl=bad)


def test_stale_if_error(make_cache: Callable[..., TieredCache], clock: Clock) -> None:
    cache = make_cache(cache_stale_if_error=100)
    cache.store(key(), "v", ttl=10)
    clock.advance(50)  # expired 40 s ago
    assert not cache.lookup(key()).hit
    assert not cache.lookup(key(), allow_stale=30).hit
    assert cache.lookup(key(), allow_stale=60) == CacheLookup(True, "v", "memory", True)
    cache.clear("memory")
    assert cache.lookup(key(), allow_stale=60) == CacheLookup(True, "v", "disk", True)
    clock.advance(71)  # expired 111 s ago: past the retention of 100 s
    assert not cache.lookup(key(), allow_stale=1_000).hit
    cache.clear("memory")
    assert not cache.lookup(key(), allow_stale=1_000).hit


def test_stale_is_bounded_by_retention_setting(make_cache: Callable[..., TieredCache],
                                               clock: Clock) -> None:
    cache = make_cache(cache_stale_if_error=0)
    cache.store(key(), "v", ttl=10)
    clock.advance(11)
    assert not cache.lookup(key(), allow_stale=3_600).hit


def test_stale_bound_per_kind(make_cache: Callable[..., TieredCache], clock: Clock) -> None:
    cache = make_cache(cache_stale_if_error=100,
                       cache_kind_stale={"spot_prices": 0, "regions": 1_000})
    for kind in ("spot_prices", "regions", None):
        cache.store(key(str(kind)), kind, kind=kind, ttl=10)
    clock.advance(500)  # every entry expired 490 s ago
    cache.clear("memory")
    assert not cache.lookup(key("spot_prices"), kind="spot_prices", allow_stale=9_999).hit
    assert cache.lookup(key("regions"), kind="regions", allow_stale=9_999).stale
    assert not cache.lookup(key("None"), allow_stale=9_999).hit  # default bound: 100 s


def test_memory_lru_eviction(make_cache: Callable[..., TieredCache]) -> None:
    cache = make_cache(cache_memory_max_items=3, cache_disk_enabled=False)
    for name in "abc":
        cache.store(key(name), name, kind="regions")
    assert cache.lookup(key("a"), kind="regions").hit  # a is now most recently used
    cache.store(key("d"), "d", kind="regions")
    assert not cache.lookup(key("b"), kind="regions").hit
    assert all(cache.lookup(key(n), kind="regions").hit for n in "acd")
    row = cache.stats().set_index(["tier", "kind"]).loc[("memory", "regions")]
    assert row["evictions"] == 1 and row["entries"] == 3


@pytest.mark.parametrize("policy", ["least-recently-stored", "least-recently-used"])
def test_disk_size_limit_evicts(make_cache: Callable[..., TieredCache], policy: str) -> None:
    cache = make_cache(cache_memory_max_items=0, cache_disk_size_limit=1 << 20,
                       cache_compression_enabled=False, disk_eviction_policy=policy)
    blob = os.urandom(64 * 1024)
    for i in range(40):
        assert cache.store(key(str(i)), blob + bytes([i]), ttl=3_600)
        if policy == "least-recently-used":
            assert cache.lookup(key("0")).hit  # keep entry 0 in use
    present = [i for i in range(40) if cache.lookup(key(str(i))).hit]
    assert 8 <= len(present) <= 20, present
    assert 39 in present and 1 not in present
    assert (0 in present) is (policy == "least-recently-used")
    assert int(cache.stats()["bytes"].sum()) <= (1 << 20) + 11 * 65 * 1024


def test_compression_round_trip_and_smaller(make_cache: Callable[..., TieredCache],
                                            tmp_path: Path) -> None:
    value = response()
    sizes = {}
    for compress in (True, False):
        cache = make_cache(cache_dir=tmp_path / f"c{compress}", cache_compression_enabled=compress)
        assert cache.store(key(), value)
        cache.clear("memory")
        found = cache.lookup(key())
        assert found.tier == "disk" and found.value == value
        sizes[compress] = int(cache.stats().query("tier == 'disk'")["bytes"].sum())
    assert len(pickle.dumps(value)) > 4096
    assert sizes[True] < sizes[False] / 3, sizes


def test_clear_tiers(make_cache: Callable[..., TieredCache]) -> None:
    cache = make_cache()
    cache.store(key(), 1)
    cache.clear("disk")
    assert cache.lookup(key()).tier == "memory"
    cache.clear("memory")
    assert not cache.lookup(key()).hit
    cache.store(key(), 1)
    cache.clear()
    assert not cache.lookup(key()).hit
    with pytest.raises(UsageError, match="'ram'"):
        cache.clear("ram")


def test_evict_one_entry(make_cache: Callable[..., TieredCache]) -> None:
    cache = make_cache()
    cache.store(key("a"), 1)
    cache.store(key("b"), 2)
    cache.evict(key("a"))
    assert not cache.lookup(key("a")).hit
    assert cache.lookup(key("b")).hit


def test_two_scopes_never_share(make_cache: Callable[..., TieredCache]) -> None:
    cache = make_cache()
    mine, theirs = "aws:111111111111:dev", "aws:222222222222:prod"
    cache.store(key(scope=mine), "mine")
    assert not cache.lookup(key(scope=theirs)).hit
    cache.clear("memory")
    assert not cache.lookup(key(scope=theirs)).hit
    assert cache.lookup(key(scope=mine)).value == "mine"
    f_calls: list[str] = []

    def who(x: int) -> str:
        f_calls.append("call")
        return f"{x}"

    a = cache.memoize(who, scope=mine)
    b = cache.memoize(who, scope=theirs)
    a(1), b(1), a(1), b(1)
    assert len(f_calls) == 2
    assert a.key(1) != b.key(1)


def test_credentials_are_never_cached(make_cache: Callable[..., TieredCache],
                                      caplog: pytest.LogCaptureFixture) -> None:
    cache = make_cache()
    secret = {"Credentials": {"AccessKeyId": "AKIA", "SecretAccessKey": "s3cr3t",
                              "SessionToken": "tok"}}
    with caplog.at_level(logging.WARNING, logger="geuse_nb"):
        assert cache.store(key("sts"), secret) is False
        assert cache.store(key("sts2"), secret) is False
    assert not cache.lookup(key("sts")).hit
    assert len([r for r in caplog.records if "credentials" in r.getMessage()]) == 1
    assert not list(cache.directory.rglob("*.val"))
    assert b"s3cr3t" not in (cache.directory / "cache.db").read_bytes()


def test_cache_dir_is_private(make_cache: Callable[..., TieredCache], tmp_path: Path) -> None:
    cache = make_cache(cache_dir=tmp_path / "new" / "dir")
    cache.store(key(), 1)
    for path in (tmp_path / "new" / "dir", cache.directory):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    other = make_cache(cache_dir=shared)
    other.store(key(), 1)
    assert stat.S_IMODE(other.directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755  # a dir we did not create is left alone


def test_disk_disabled_is_memory_only(make_cache: Callable[..., TieredCache]) -> None:
    cache = make_cache(cache_disk_enabled=False)
    cache.store(key(), 1)
    assert cache.lookup(key()).tier == "memory"
    assert not cache.directory.exists()
    assert list(cache.stats()["tier"]) == ["memory"]


def test_pickles_as_settings_and_shares_the_disk(
        make_settings: Callable[..., Settings]) -> None:
    cache = TieredCache(make_settings())  # the real clock: a pickled cache has no fake one
    cache.store(key(), {"v": 1})
    twin = pickle.loads(pickle.dumps(cache))
    try:
        assert twin.settings == cache.settings
        assert twin.lookup(key()) == CacheLookup(True, {"v": 1}, "disk", False)
    finally:
        twin.close()
        assert len(pickle.dumps(cache)) < 3_000
        cache.close()


def test_stats_frame(make_cache: Callable[..., TieredCache]) -> None:
    cache = make_cache()
    cache.lookup(key("a"), kind="spot_prices")                 # miss
    cache.store(key("a"), response(20), kind="spot_prices")
    cache.lookup(key("a"), kind="spot_prices")                 # memory hit
    cache.clear("memory")
    cache.lookup(key("a"), kind="spot_prices")                 # disk hit
    cache.lookup(key("a"), kind="spot_prices")                 # memory hit
    frame = cache.stats()
    assert list(frame.columns) == ["tier", "kind", "hits", "misses", "hit_rate", "entries",
                                   "bytes", "evictions", "errors", "mean_us", "p95_us"]
    rows = frame.set_index(["tier", "kind"])
    mem, disk = rows.loc[("memory", "spot_prices")], rows.loc[("disk", "spot_prices")]
    assert (mem["hits"], mem["misses"], disk["hits"], disk["misses"]) == (2, 2, 1, 1)
    assert disk["entries"] == 1 and disk["bytes"] > 0 and mem["entries"] == 1
    assert mem["hit_rate"] == 0.5 and 0 < mem["mean_us"] <= mem["p95_us"]
    assert frame.attrs["lookups"] == 4 and frame.attrs["hit_rate"] == 0.75


# ---------------------------------------------------------------- memoize
def test_memoize_with_and_without_parentheses(make_cache: Callable[..., TieredCache],
                                              clock: Clock) -> None:
    cache = make_cache()
    calls: list[tuple[Any, ...]] = []

    @cache.memoize
    def plain(a: int, b: int = 2) -> int:
        calls.append((a, b))
        return a + b

    @cache.memoize(ttl=10, kind="spot_prices")
    def timed(a: int) -> int:
        calls.append((a,))
        return a

    assert plain(1) == plain(1, 2) == plain(a=1) == 3
    assert timed(5) == timed(5) == 5
    assert calls == [(1, 2), (5,)]
    assert plain.__name__ == "plain"
    clock.advance(11)
    timed(5), plain(1)
    assert calls == [(1, 2), (5,), (5,)]


def test_memoize_key_evict_clear_ignore(make_cache: Callable[..., TieredCache]) -> None:
    cache = make_cache()
    calls: list[int] = []

    @cache.memoize(ignore=("client",))
    def get(client: object, n: int) -> int:
        calls.append(n)
        return n * 10

    @cache.memoize
    def other(n: int) -> int:
        return -n

    get(object(), 1), get(object(), 1), get(object(), 2), other(1)
    assert calls == [1, 2]
    assert get.key(None, 1) == get.key("another client", 1) != get.key(None, 2)
    assert get.key(None, 1).startswith("memoize.")
    assert other.key({1: "a"}) != other.key({"1": "a"})
    assert other.key((1, 2)) == other.key([1, 2])
    get.evict(None, 1)
    get(None, 1), get(None, 2)
    assert calls == [1, 2, 1]
    get.clear()
    cache.clear("memory")  # also prove the disk copies of get() are gone
    get(None, 1), get(None, 2)
    assert calls == [1, 2, 1, 1, 2]
    assert cache.lookup(other.key(1)).hit  # clear() touched only get()'s entries


def test_memoize_bad_input(make_cache: Callable[..., TieredCache]) -> None:
    cache = make_cache()
    with pytest.raises(UsageError, match="no argument clinet"):
        cache.memoize(lambda client, n: n, ignore=("clinet",))
    with pytest.raises(UsageError, match="not callable"):
        cache.memoize(42)
    with pytest.raises(UsageError, match="ttl="):
        cache.memoize(ttl=-1)

    @cache.memoize
    def needs_plain(client: object, n: int) -> int:
        return n

    with pytest.raises(UsageError, match="argument 'client'") as err:
        needs_plain(object(), 1)
    assert "ignore=('client',)" in str(err.value)
    with pytest.raises(TypeError):
        needs_plain()  # the function's own TypeError, not swallowed


def test_memoize_does_not_cache_exceptions(make_cache: Callable[..., TieredCache]) -> None:
    cache = make_cache()
    attempts: list[int] = []

    @cache.memoize
    def flaky(n: int) -> int:
        attempts.append(n)
        if len(attempts) == 1:
            raise RuntimeError("boom")
        return n

    with pytest.raises(RuntimeError):
        flaky(1)
    assert flaky(1) == flaky(1) == 1
    assert attempts == [1, 1]


def test_memoize_methods(make_cache: Callable[..., TieredCache]) -> None:
    cache = make_cache()

    class Thing:
        def __init__(self) -> None:
            self.calls = 0

        @cache.memoize(ignore=("self",))
        def value(self, n: int) -> int:
            self.calls += 1
            return n + 1

    thing = Thing()
    assert thing.value(1) == thing.value(1) == 2
    assert thing.calls == 1


def test_memoize_noop_when_caching_is_off(make_cache: Callable[..., TieredCache]) -> None:
    cache = make_cache(cache_memory_max_items=0, cache_disk_enabled=False)
    assert cache.enabled is False
    calls: list[int] = []

    @cache.memoize
    def f(n: int) -> int:
        calls.append(n)
        return n

    f(1), f(1)
    assert calls == [1, 1]
    assert f.key(1).startswith("memoize.")
    f.evict(1)
    f.clear()
    assert not cache.store(key(), 1)


# ---------------------------------------------------------------- warm
def test_warm_runs_calls_through_attached_fetch(make_cache: Callable[..., TieredCache]) -> None:
    cache = make_cache()
    seen: list[dict[str, Any]] = []

    def fetch(spec: dict[str, Any]) -> Any:
        seen.append(spec)
        if spec["operation"] == "describe_broken":
            raise RuntimeError("region is down")
        k = make_key(scope=SCOPE, region=spec["region"], service=spec["service"],
                     operation=spec["operation"], params=spec["params"])
        value = {"ok": spec["region"]}
        cache.store(k, value)
        return value

    def pmap(fn: Callable[[Any], Any], items: list[Any], *, desc: str,
             n_jobs: int | None) -> list[Any]:
        assert desc and n_jobs == 3
        return [fn(i) for i in items]

    with pytest.raises(UsageError, match="attach"):
        cache.warm([("ec2", "describe_regions", "us-east-1")])
    cache.attach(fetch=fetch, pmap=pmap, scope=SCOPE)
    calls = [("ec2", "describe_regions", "us-east-1"),
             {"service": "ec2", "operation": "describe_regions", "region": "eu-west-1"},
             ("ec2", "describe_broken", "us-east-1", {"X": 1})]
    first = cache.warm(calls, n_jobs=3)
    assert list(first["ok"]) == [True, True, False]
    assert "region is down" in first["error"].iloc[2]
    assert list(first["cached_before"]) == [False, False, False]
    second = cache.warm(calls[:2], n_jobs=3)
    assert list(second["cached_before"]) == [True, True]
    assert seen[2]["params"] == {"X": 1}
    for bad in (["ec2"], {"service": "ec2"}, 42, ("ec2", "x", 3)):
        with pytest.raises(UsageError, match="call #0"):
            cache.warm([bad])


def test_import_is_light() -> None:
    code = ("import sys, geuse_nb.cache.tiered; "
            "print(sorted({'pandas', 'numpy'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]"


def test_errors_are_geuse_errors() -> None:
    assert issubclass(UsageError, GeuseError)
