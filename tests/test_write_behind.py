"""The disk tier written behind: nothing stored is lost across close(), a process killed
while writing leaves a cache that opens clean, and the writer thread does not outlive its
work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import geuse_nb as gn
from geuse_nb.cache._behind import IDLE_EXIT
from geuse_nb.cache.tiered import TieredCache
from geuse_nb.config import resolve_settings

READS = [("ec2", "describe_availability_zones"), ("ec2", "describe_vpcs"),
         ("ec2", "describe_security_groups"), ("sts", "get_caller_identity")]


def test_a_new_kit_after_close_answers_the_last_kits_calls_with_no_request(
        sandbox: Any, tmp_path: Path) -> None:
    regions = list(sandbox.regions[:3])
    with gn.Kit("first", backend="sandbox", sandbox=sandbox, cache_dir=tmp_path) as first:
        answers = {(s, op, r): first.call(s, op, r) for s, op in READS for r in regions}
        assert first.cache._behind is not None  # the default writes behind
    assert first.cache._behind.pending == 0  # close() flushed: nothing left to the writer
    before = sandbox.requests()
    with gn.Kit("second", backend="sandbox", sandbox=sandbox, cache_dir=tmp_path) as second:
        again = {(s, op, r): second.call(s, op, r) for s, op in READS for r in regions}
        tiers = second.cache.stats().groupby("tier")["hits"].sum()
    assert sandbox.requests() == before  # every answer came from the first kit's disk
    assert again == answers and tiers["disk"] == len(answers)


def test_sigkill_while_writing_loses_at_most_the_unwritten_batch(tmp_path: Path) -> None:
    """A child stores answers as fast as it can and prints each key once flushed; it is
    killed mid-stream. The cache then opens clean, every key the child saw flushed is
    there and whole, and whatever else is there is whole too."""
    script = textwrap.dedent(f"""
        import sys
        from geuse_nb.config import resolve_settings
        from geuse_nb.cache.tiered import TieredCache
        cache = TieredCache(resolve_settings(cache_dir={str(tmp_path)!r}))
        value = {{"rows": [{{"i": i, "pad": "x" * 200}} for i in range(40)]}}
        i = 0
        while True:
            cache.store(f"k{{i}}", {{**value, "n": i}}, ttl=3600)
            if i % 50 == 49:
                cache.flush()
                print(i, flush=True)
            i += 1
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    flushed = -1
    for line in child.stdout:  # bounded: the child prints every 50 stores
        flushed = int(line)
        if flushed >= 499:
            break
    os.kill(child.pid, signal.SIGKILL)  # mid-stream: the writer is busy with the next batch
    child.wait(timeout=30)
    assert flushed >= 499
    cache = TieredCache(resolve_settings(cache_dir=tmp_path, cache_memory_max_items=0))
    try:
        for i in range(flushed + 1):
            found = cache.lookup(f"k{i}")
            assert found.hit and found.tier == "disk" and found.value["n"] == i, i
        present = [i for i in range(flushed + 1, flushed + 2000) if cache.lookup(f"k{i}").hit]
        assert all(cache.lookup(f"k{i}").value["n"] == i for i in present)
        assert cache.disk_state == "ok"
        assert cache.store("after", 1) and cache.flush(5) and cache.lookup("after").hit
    finally:
        cache.close()


def test_the_writer_thread_ends_when_idle_and_at_close(tmp_path: Path) -> None:
    cache = TieredCache(resolve_settings(cache_dir=tmp_path))
    writers = lambda: [t for t in threading.enumerate()  # noqa: E731
                       if t.name.startswith("geuse-write-behind")]
    cache.store("a", 1)
    assert writers()
    cache.flush()
    for thread in writers():
        thread.join(IDLE_EXIT * 10)  # it ends by itself after IDLE_EXIT with nothing to do
    assert not writers()
    cache.store("b", 2)  # a later write starts another
    cache.close()  # and close() flushes and ends it
    assert not writers()
    reopened = TieredCache(resolve_settings(cache_dir=tmp_path, cache_memory_max_items=0))
    assert reopened.lookup("b").value == 2
    reopened.close()


def test_clear_cannot_be_undone_by_a_queued_write(tmp_path: Path) -> None:
    cache = TieredCache(resolve_settings(cache_dir=tmp_path))
    for i in range(200):
        cache.store(f"k{i}", i)
    cache.clear()  # the queued writes land first, then everything goes
    cache.flush()
    assert not any(cache.lookup(f"k{i}").hit for i in range(200))
    cache.close()


def test_read_just_after_a_write_hits_without_a_memory_tier(tmp_path: Path) -> None:
    cache = TieredCache(resolve_settings(cache_dir=tmp_path, cache_memory_max_items=0))
    cache.store("k", {"v": 1})  # queued for the disk tier, not written yet
    assert cache.lookup("k").value == {"v": 1} and "k" in cache
    cache.close()



def _count_write_now(monkeypatch: Any) -> list[str]:
    from geuse_nb.cache._behind import WriteBehind

    written: list[str] = []
    real = WriteBehind.write_now

    def spy(self: WriteBehind, tier: Any, key: str) -> Any:
        written.append(key)
        return real(self, tier, key)

    monkeypatch.setattr(WriteBehind, "write_now", spy)
    return written


def test_a_cache_alone_writes_its_misses_behind_one_sharing_writes_them_at_once(
        tmp_path: Path, monkeypatch: Any) -> None:
    # The miss path (single_flight) of a cache alone on its directory takes no
    # cross-process lock, so nothing needs to be on disk before a release: its answers go
    # to the writer like any store. A second cache on the directory (another process, or
    # here another cache) makes each miss a locked one, written at once.
    written = _count_write_now(monkeypatch)
    alone = TieredCache(resolve_settings(cache_dir=tmp_path))

    def miss(cache: TieredCache, key: str) -> Any:
        def fetch() -> int:
            cache.store(key, 1)
            return 1
        return cache.single_flight(key, fetch)

    for i in range(20):
        assert miss(alone, f"alone{i}") == (1, False)
    assert written == []  # all of them queued for the writer
    other = TieredCache(resolve_settings(cache_dir=tmp_path))
    alone.xflight._next_check = 0.0  # look for peers at the next miss, not in a second
    assert miss(alone, "shared") == (1, False)
    assert written == ["shared"]
    other.close()
    alone.close()


def test_a_batch_commits_the_latest_write_of_each_key_once(
        tmp_path: Path, monkeypatch: Any) -> None:
    from geuse_nb.cache._disk import DiskTier

    written: list[str] = []
    real = DiskTier.set_many

    def spy(self: DiskTier, writes: Any) -> None:
        written.extend(w.key for w in writes)
        real(self, writes)

    monkeypatch.setattr(DiskTier, "set_many", spy)
    cache = TieredCache(resolve_settings(cache_dir=tmp_path))
    for i in range(50):  # a loop refreshing one key, and a second key once
        cache.store("hot", i)
    cache.store("cold", "c")
    cache.flush()
    assert sorted(written) == ["cold", "hot"]  # one batch (flush ends the linger), one each
    cache.close()
    reopened = TieredCache(resolve_settings(cache_dir=tmp_path, cache_memory_max_items=0))
    assert reopened.lookup("hot").value == 49 and reopened.lookup("cold").value == "c"
    reopened.close()
