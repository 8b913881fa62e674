"""The tiered cache under damage and load: corrupt files, unusable dirs, threads, processes.

What is simulated, honestly: tests run as root, so ``chmod 000`` would not stop us
reading; an unusable directory is simulated by a *file* sitting where the directory
should be (cache_dir itself, or the tiered-v1 directory inside it).
"""

from __future__ import annotations

import json
import logging
import os
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import diskcache
import pytest

from geuse_nb.cache.keys import make_key
from geuse_nb.cache.tiered import TieredCache
from geuse_nb.config import resolve_settings

ROOT = Path(__file__).resolve().parents[1]


def key(name: str) -> str:
    return make_key(scope="test", region="us-east-1", service="ec2",
                    operation="describe_instances", params={"name": name})


@pytest.fixture()
def new_cache(tmp_path: Path) -> Iterator[Callable[..., TieredCache]]:
    made: list[TieredCache] = []

    def build(**kw: Any) -> TieredCache:
        kw.setdefault("cache_dir", tmp_path / "cache")
        cache = TieredCache(resolve_settings(**kw))
        made.append(cache)
        return cache

    yield build
    for cache in made:
        cache.close()


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name.startswith("geuse_nb") and r.levelno >= logging.WARNING]


def fill(cache: TieredCache, n: int = 200) -> None:
    for i in range(n):
        assert cache.store(key(str(i)), {"i": i, "pad": "x" * 400})


def rebuilt_and_working(cache: TieredCache) -> None:
    """After damage: a store reaches the (new) disk tier and reads back from it."""
    assert cache.store(key("new"), {"fresh": True})
    cache.clear("memory")
    found = cache.lookup(key("new"))
    assert (found.hit, found.tier, found.value) == (True, "disk", {"fresh": True})
    assert cache.disk_state == "ok"


# ---------------------------------------------------------------- corrupt index
@pytest.mark.parametrize("damage", ["garbage", "truncated", "garbage-header"])
def test_corrupt_sqlite_index_is_moved_aside(new_cache: Callable[..., TieredCache],
                                             caplog: pytest.LogCaptureFixture,
                                             damage: str) -> None:
    cache = new_cache()
    fill(cache)
    cache.close()
    db = cache.directory / "cache.db"
    size = db.stat().st_size
    if damage == "garbage":
        db.write_bytes(os.urandom(size))
    elif damage == "truncated":
        with db.open("r+b") as f:
            f.truncate(size // 2)
    else:
        data = bytearray(db.read_bytes())
        data[:100] = os.urandom(100)
        db.write_bytes(bytes(data))
    again = new_cache()
    with caplog.at_level(logging.WARNING, logger="geuse_nb"):
        assert not again.lookup(key("1")).hit
        assert not again.lookup(key("2")).hit
    assert len(warnings_of(caplog)) == 1, warnings_of(caplog)
    assert "moved it aside" in warnings_of(caplog)[0]
    aside = list(cache.directory.parent.glob("tiered-v1.corrupt-*"))
    assert len(aside) == 1 and (aside[0] / "cache.db").exists()
    rebuilt_and_working(again)


def test_memory_survives_disk_damage(new_cache: Callable[..., TieredCache],
                                     caplog: pytest.LogCaptureFixture) -> None:
    cache = new_cache()
    fill(cache, 20)
    cache.close()  # drop the handle (as a fresh process would), keep the memory tier
    db = cache.directory / "cache.db"
    db.write_bytes(os.urandom(db.stat().st_size))
    with caplog.at_level(logging.WARNING, logger="geuse_nb"):
        assert not cache.lookup(key("not-there")).hit
        assert cache.lookup(key("3")).tier == "memory"
    assert len(warnings_of(caplog)) == 1
    rebuilt_and_working(cache)


# ---------------------------------------------------------------- corrupt entries
def test_garbage_value_file_is_a_miss(new_cache: Callable[..., TieredCache],
                                      caplog: pytest.LogCaptureFixture) -> None:
    cache = new_cache(cache_compression_enabled=False)
    big = os.urandom(100_000)  # above diskcache's 32 KB: stored in its own file
    cache.store(key("big"), big)
    cache.store(key("small"), "ok")
    cache.flush()  # written behind: on disk once the batch is written
    files = list(cache.directory.rglob("*.val"))
    assert len(files) == 1
    files[0].write_bytes(b"\x00garbage" * 100)
    cache.clear("memory")
    with caplog.at_level(logging.WARNING, logger="geuse_nb"):
        assert not cache.lookup(key("big")).hit
        assert not cache.lookup(key("big")).hit  # deleted: a plain miss, no new warning
    assert len(warnings_of(caplog)) == 1 and "corrupt disk entry" in warnings_of(caplog)[0]
    assert cache.lookup(key("small")).value == "ok"
    assert cache.store(key("big"), big)
    cache.clear("memory")
    assert cache.lookup(key("big")).value == big
    assert cache.stats().query("tier == 'disk'")["errors"].sum() == 1


@pytest.mark.parametrize("junk", [
    b"", b"GNC1", b"not a cache entry at all",
    struct.pack("<4sBdd", b"GNC1", 1, 0.0, 1e12) + b"not zlib",   # a fresh entry, bad body
    struct.pack("<4sBdd", b"GNC1", 0, 0.0, 1e12) + b"not a pickle",
])
def test_garbage_value_in_index_is_a_miss(new_cache: Callable[..., TieredCache],
                                          caplog: pytest.LogCaptureFixture,
                                          junk: bytes) -> None:
    cache = new_cache()
    cache.store(key("x"), 1)
    cache.close()
    with diskcache.Cache(str(cache.directory)) as raw:
        raw.set(key("x"), junk)
    cache.clear("memory")
    with caplog.at_level(logging.WARNING, logger="geuse_nb"):
        assert not cache.lookup(key("x")).hit
    assert len(warnings_of(caplog)) == 1
    rebuilt_and_working(cache)


# ---------------------------------------------------------------- unusable dirs
def test_cache_dir_that_is_a_file_means_memory_only(tmp_path: Path,
                                                    new_cache: Callable[..., TieredCache],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache dir should be")
    cache = new_cache(cache_dir=blocker)
    with caplog.at_level(logging.WARNING, logger="geuse_nb"):
        assert not cache.lookup(key("a")).hit
        assert cache.store(key("a"), 1)
        assert cache.lookup(key("a")).tier == "memory"
        assert not cache.lookup(key("b")).hit
    assert len(warnings_of(caplog)) == 1 and "memory only" in warnings_of(caplog)[0]
    assert cache.disk_state == "unusable"
    assert blocker.read_text().startswith("a file")  # the user's file is left alone
    assert list(cache.stats()["tier"]) == ["memory"]


def test_tier_dir_that_is_a_file_is_rebuilt(tmp_path: Path,
                                            new_cache: Callable[..., TieredCache],
                                            caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "tiered-v1").write_bytes(b"junk")
    cache = new_cache()
    with caplog.at_level(logging.WARNING, logger="geuse_nb"):
        assert not cache.lookup(key("a")).hit
    assert len(warnings_of(caplog)) == 1
    rebuilt_and_working(cache)


def test_parent_that_cannot_be_created_means_memory_only(
        tmp_path: Path, new_cache: Callable[..., TieredCache],
        caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "file").write_text("x")
    cache = new_cache(cache_dir=tmp_path / "file" / "below")
    with caplog.at_level(logging.WARNING, logger="geuse_nb"):
        cache.store(key("a"), 1)
        cache.flush()  # the writer meets the unusable directory
        assert cache.lookup(key("a")).tier == "memory"
    assert cache.disk_state == "unusable" and len(warnings_of(caplog)) == 1


# ---------------------------------------------------------------- threads
def test_many_threads_one_cache(new_cache: Callable[..., TieredCache]) -> None:
    cache = new_cache(cache_memory_max_items=64)  # small: forces evictions and disk reads
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work(t: int) -> None:
        try:
            start.wait()
            for i in range(60):
                cache.store(key(f"{t}-{i}"), {"t": t, "i": i})
                found = cache.lookup(key(f"{t}-{i // 2}"))
                assert found.hit and found.value == {"t": t, "i": i // 2}
                if i % 25 == 0:
                    cache.clear("memory")
                    cache.stats()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    cache.clear("memory")
    assert all(cache.lookup(key(f"{t}-{i}")).value == {"t": t, "i": i}
               for t in range(8) for i in range(60))


# ---------------------------------------------------------------- processes
_WORKER = r"""
import json, sys, threading
from geuse_nb.cache.tiered import TieredCache
from geuse_nb.cache.keys import make_key
from geuse_nb.config import resolve_settings

cache_dir, proc, threads, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
cache = TieredCache(resolve_settings(cache_dir=cache_dir, cache_memory_max_items=16))
def key(name):
    return make_key(scope="test", region="r", service="ec2", operation="describe_x",
                    params={"name": name})
problems = []
def work(t):
    try:
        for i in range(n):
            name = f"{proc}-{t}-{i}"
            if not cache.store(key(name), {"name": name, "pad": "y" * (i * 37 % 9000)}):
                problems.append(f"store {name} returned False")
            found = cache.lookup(key(name))
            if not found.hit or found.value["name"] != name:
                problems.append(f"lost {name}: {found}")
            other = cache.lookup(key(f"{(proc + 1) % 4}-{t}-{i // 2}"))
            if other.hit and other.value["name"] != f"{(proc + 1) % 4}-{t}-{i // 2}":
                problems.append(f"wrong value for another process's key {other}")
    except BaseException as exc:
        problems.append(repr(exc))
ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
[t.start() for t in ts]
[t.join() for t in ts]
cache.close()
print(json.dumps(problems))
"""


def test_four_processes_four_threads_one_dir(tmp_path: Path) -> None:
    cache_dir = tmp_path / "shared"
    per_thread = 40
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, str(cache_dir), str(p), "4",
                               str(per_thread)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
             for p in range(4)]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert json.loads(out) == [], out
        assert "Traceback" not in err and "WARNING" not in err, err
    cache = TieredCache(resolve_settings(cache_dir=cache_dir))
    try:
        for p in range(4):
            for t in range(4):
                for i in range(per_thread):
                    name = f"{p}-{t}-{i}"
                    found = cache.lookup(make_key(scope="test", region="r", service="ec2",
                                                  operation="describe_x",
                                                  params={"name": name}))
                    assert found.hit and found.tier == "disk" and found.value["name"] == name
        assert cache.stats().query("tier == 'disk'")["entries"].sum() == 4 * 4 * per_thread
    finally:
        cache.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_gets_its_own_disk_handle(new_cache: Callable[..., TieredCache]) -> None:
    cache = new_cache()
    cache.store(key("parent"), "p")
    cache.store(key("on-disk"), "d")
    cache.flush()  # on disk before the fork (the child does not inherit the write queue)
    cache.lookup(key("on-disk"))  # the parent's handle is open and used
    pid = os.fork()
    if pid == 0:  # child: inherited memory, a fresh disk handle, writes the parent can read
        ok = False
        try:
            ok = (cache.lookup(key("parent")).tier == "memory"
                  and cache.store(key("child"), "c")
                  and (cache.clear("memory") is None)
                  and cache.lookup(key("on-disk")).value == "d")
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert cache.lookup(key("child")).value == "c"
    assert cache.lookup(key("parent")).tier == "memory"
