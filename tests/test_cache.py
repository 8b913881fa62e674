"""The tiered cache on its own: TTLs, tiers, eviction, compression, stats, memoize, and the
tier registry (a tier added here, in the test file alone). Keys: test_cache_keys.py."""

from __future__ import annotations

import datetime as dt
import logging
import os
import pickle
import stat
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from geuse_nb.cache.keys import make_key
from geuse_nb.cache.memoize import memoize
from geuse_nb.cache.tiered import (
    DISK_STATES,
    CacheLookup,
    DiskState,
    Entry,
    Tier,
    TieredCache,
    TierRow,
    TierSetup,
    register_tier,
    unregister_tier,
)
from geuse_nb.config import Settings, resolve_settings
from geuse_nb.errors import GeuseError, UsageError

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
def make_cache(make_settings: Callable[..., Settings],
               clock: Clock) -> Iterator[Callable[..., TieredCache]]:
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


@pytest.mark.parametrize("behind", [True, False], ids=["batched", "lone-writes"])
@pytest.mark.parametrize("policy", ["least-recently-stored", "least-recently-used"])
def test_disk_size_limit_evicts(make_cache: Callable[..., TieredCache], policy: str,
                                behind: bool) -> None:
    cache = make_cache(cache_memory_max_items=0, cache_disk_size_limit=1 << 20,
                       cache_compression_enabled=False, disk_eviction_policy=policy,
                       cache_write_behind=behind)
    blob = os.urandom(64 * 1024)
    for i in range(40):
        assert cache.store(key(str(i)), blob + bytes([i]), ttl=3_600)
        if policy == "least-recently-used":
            cache.flush()  # on disk first: a read served from the write queue is no use
            assert cache.lookup(key("0")).hit  # keep entry 0 in use
    cache.flush()  # written behind: the size limit applies once the batches are written
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

    a = memoize(cache, who, scope=mine)
    b = memoize(cache, who, scope=theirs)
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
    cache.flush()  # the disk tier is opened (and its directory made) by its first write
    for path in (tmp_path / "new" / "dir", cache.directory):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    other = make_cache(cache_dir=shared)
    other.store(key(), 1)
    other.flush()
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
    cache.flush()  # what another instance (or process) sees: the written batches
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

    @memoize(cache)
    def plain(a: int, b: int = 2) -> int:
        calls.append((a, b))
        return a + b

    @memoize(cache, ttl=10, kind="spot_prices")
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

    @memoize(cache, ignore=("client",))
    def get(client: object, n: int) -> int:
        calls.append(n)
        return n * 10

    @memoize(cache)
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
        memoize(cache, lambda client, n: n, ignore=("clinet",))
    with pytest.raises(UsageError, match="not callable"):
        memoize(cache, 42)
    with pytest.raises(UsageError, match="ttl="):
        memoize(cache, ttl=-1)

    @memoize(cache)
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

    @memoize(cache)
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

        @memoize(cache, ignore=("self",))
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

    @memoize(cache)
    def f(n: int) -> int:
        calls.append(n)
        return n

    f(1), f(1)
    assert calls == [1, 1]
    assert f.key(1).startswith("memoize.")
    f.evict(1)
    f.clear()
    assert not cache.store(key(), 1)


# ---------------------------------------------------------------- tiers as an extension point
class DictTier(Tier):
    """A tier written here, in the test file alone: a plain dict that counts its calls."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self.calls: Counter[str] = Counter()

    @classmethod
    def factory(cls, setup: TierSetup) -> DictTier:
        return cls()

    def get(self, key: str, kind: str) -> Entry | None:
        self.calls["get"] += 1
        return self.entries.get(key)

    def set(self, key: str, entry: Entry, *, expire: float, group: str | None,
            payload: bytes | None) -> bool:
        self.calls["set"] += 1
        self.entries[key] = entry
        return True

    def delete(self, key: str) -> None:
        self.entries.pop(key, None)

    def clear(self) -> None:
        self.entries.clear()

    def clear_group(self, prefix: str, group: str, kind: str) -> None:
        for key in [k for k in self.entries if k.startswith(prefix)]:
            del self.entries[key]

    def stats(self) -> Mapping[str, TierRow]:
        kinds = Counter(e.kind for e in self.entries.values())
        return {kind: TierRow(entries=n) for kind, n in kinds.items()}


def test_a_tier_passed_as_a_parameter_is_walked_and_promoted(
        make_settings: Callable[..., Settings], clock: Clock) -> None:
    """memory → dict: a dict hit is copied into memory; TTL, evict, clear, stats all
    reach the new tier without a line of it in geuse_nb/."""
    from geuse_nb.cache._memory import MemoryTier

    with TieredCache(make_settings(), clock=clock,
                     tiers=[("memory", MemoryTier.from_setup),
                            ("dict", DictTier.factory)]) as cache:
        _, mine = cache.tiers
        assert isinstance(mine, DictTier) and mine.name == "dict"
        assert cache.disk_state == DiskState.OFF and not cache.directory.exists()
        cache.store(key("a"), 1, kind="regions", ttl=10)
        cache.store(key("b"), 2)
        cache.clear("memory")
        assert cache.lookup(key("a"), kind="regions") == CacheLookup(True, 1, "dict", False)
        assert cache.lookup(key("a"), kind="regions").tier == "memory"  # promoted
        rows = cache.stats().set_index(["tier", "kind"])
        assert rows.loc[("dict", "regions"), "hits"] == 1
        assert rows.loc[("dict", "regions"), "entries"] == 1
        clock.advance(11)
        assert key("a") not in cache and not cache.lookup(key("a"), kind="regions").hit
        cache.evict(key("b"))
        assert key("b") not in mine.entries and not cache.lookup(key("b")).hit
        with pytest.raises(UsageError, match="did you mean 'dict'"):
            cache.clear("dcit")


@pytest.fixture()
def counting_tier() -> Iterator[list[DictTier]]:
    """Registers a DictTier between memory and disk for every cache built meanwhile."""
    made: list[DictTier] = []

    def factory(setup: TierSetup) -> DictTier:
        made.append(DictTier())
        return made[-1]

    register_tier("counting", factory, before="disk")
    try:
        yield made
    finally:
        unregister_tier("counting")


def test_a_registered_tier_serves_kit_call(counting_tier: list[DictTier],
                                           sandbox: Any) -> None:
    import geuse_nb as gn

    with gn.Kit("tiers", backend="sandbox", sandbox=sandbox) as kit:
        assert [t.name for t in kit.cache.tiers] == ["memory", "counting", "disk"]
        mine = counting_tier[-1]
        first = kit.call("ec2", "describe_availability_zones", "eu-west-1")
        assert mine.calls["set"] == 1 and len(mine.entries) == 1
        kit.cache.clear("memory")
        kit.cache.clear("disk")
        before = sandbox.requests()
        again = kit.call("ec2", "describe_availability_zones", "eu-west-1")
        assert sandbox.requests() == before and again == first  # served by the new tier
        assert mine.calls["get"] == 2  # the miss of the first call, the hit of the second
        stats = kit.cache.stats().set_index(["tier", "kind"])
        assert stats.loc[("counting", "availability_zones"), "hits"] == 1
    with TieredCache(resolve_settings(cache_disk_enabled=False)) as plain:
        assert [t.name for t in plain.tiers] == ["memory", "counting"]
    unregister_tier("counting")
    with TieredCache(resolve_settings(cache_disk_enabled=False)) as plain:
        assert [t.name for t in plain.tiers] == ["memory"]
    register_tier("counting", DictTier.factory)  # the fixture unregisters it again


def test_registry_refuses_unknown_names() -> None:
    with pytest.raises(UsageError, match="did you mean 'disk'"):
        register_tier("x", DictTier.factory, before="dsik")
    with pytest.raises(UsageError, match="no tier 'nope'"):
        unregister_tier("nope")


def test_disk_states_come_from_one_table(make_cache: Callable[..., TieredCache],
                                         tmp_path: Path) -> None:
    assert set(DISK_STATES) == set(DiskState)
    assert all(state.meaning for state in DiskState)
    assert [s for s in DiskState if not s.usable] == [DiskState.OFF, DiskState.UNUSABLE]
    cache = make_cache()
    assert cache.disk_state is DiskState.CLOSED
    cache.store(key(), 1)
    cache.flush()  # the write reached the disk tier, which opened for it
    assert cache.disk_state is DiskState.OK and cache.disk_state == "ok"
    assert cache.stats().attrs["disk_state"] == "ok"
    assert make_cache(cache_disk_enabled=False).disk_state is DiskState.OFF


def test_import_is_light() -> None:
    """The cache imports neither pandas/numpy (until stats) nor memoize nor anything above
    it (beyond what ``import geuse_nb`` itself loads)."""
    code = ("import sys, geuse_nb; base = set(sys.modules); import geuse_nb.cache.tiered; "
            "print(sorted(m for m in set(sys.modules) - base if m in ('pandas', 'numpy') "
            "or m.startswith(('geuse_nb.aws', 'geuse_nb.cache.memoize', 'geuse_nb.kit', "
            "'geuse_nb.engine', 'geuse_nb.ops', 'geuse_nb.face'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]"
    assert not any(hasattr(TieredCache, name) for name in ("warm", "attach", "memoize",
                                                           "contains"))


def test_errors_are_geuse_errors() -> None:
    assert issubclass(UsageError, GeuseError)
