"""Cache damage under a kit: truncated and garbage SQLite, garbage value files, a
read-only directory, the disk size limit reached. Each one: a warning, a miss (one
request), then recovery (the next call is a hit); nothing is raised to the caller.
Then the cache directory's mode: 0700, whatever the umask. (Read-only as root: root
ignores file modes, so the directory is made immutable with ``chattr +i``.)"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_figures import add_figure

REGION = "eu-west-1"


@pytest.fixture()
def disk_kit(sandbox: Any, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Kits over one cache dir with the memory tier off: every hit is a disk hit."""
    import geuse_nb as gn

    made: list[Any] = []

    def make(**settings: Any) -> Any:
        for old in made:
            old.close()
        kit = gn.Kit("damage", backend="sandbox", sandbox=sandbox, cache_dir=str(tmp_path),
                     cache_memory_max_items=0, **settings)
        made.append(kit)
        return kit

    yield make
    for kit in made:
        kit.close()


def _requests(box: Any) -> int:
    return box.requests(REGION)


def _miss_then_hit(kit: Any, box: Any, caplog: pytest.LogCaptureFixture,
                   warned: str) -> None:
    before = _requests(box)
    with caplog.at_level(logging.WARNING, logger="geuse_nb"):
        first = kit.call("ec2", "describe_availability_zones", REGION)
    assert _requests(box) == before + 1  # a miss, not an error
    assert any(warned in r.getMessage() for r in caplog.records), \
        [r.getMessage() for r in caplog.records]
    again = kit.call("ec2", "describe_availability_zones", REGION)
    assert again == first and _requests(box) == before + 1  # recovered: a disk hit
    add_figure("faults_injected", 1)
    add_figure("calls_made", 2)


def _db(tmp_path: Path) -> Path:
    return tmp_path / "tiered-v1" / "cache.db"


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_damaged_sqlite(disk_kit: Callable[..., Any], box: Any, tmp_path: Path,
                        caplog: pytest.LogCaptureFixture, damage: str) -> None:
    kit = disk_kit()
    kit.call("ec2", "describe_availability_zones", REGION)
    kit.close()
    db = _db(tmp_path)
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 3] if damage == "truncated" else os.urandom(len(data)))
    for side in ("cache.db-wal", "cache.db-shm"):
        (db.parent / side).unlink(missing_ok=True)
    _miss_then_hit(disk_kit(), box, caplog, "moved it aside")


def test_garbage_value_files(disk_kit: Callable[..., Any], tmp_path: Path,
                             caplog: pytest.LogCaptureFixture) -> None:
    kit = disk_kit(cache_compression_enabled=False)
    runs: list[int] = []

    @kit.cached
    def big(n: int) -> bytes:
        runs.append(n)
        return os.urandom(200_000)  # above diskcache's 32 KB: stored as a value file

    first = big(1)
    kit.cache.flush()  # written behind: on disk once its batch is written
    files = [p for p in (tmp_path / "tiered-v1").rglob("*.val")]
    assert files, "the value should live in a file"
    for path in files:
        path.write_bytes(b"not a pickle" * 10)
    kit2 = disk_kit(cache_compression_enabled=False)
    big2 = kit2.cached(big.__wrapped__)
    with caplog.at_level(logging.WARNING, logger="geuse_nb"):
        second = big2(1)
    assert runs == [1, 1] and second != first  # a miss: computed again
    assert any("corrupt" in r.getMessage() or "unreadable" in r.getMessage()
               for r in caplog.records), [r.getMessage() for r in caplog.records]
    assert big2(1) == second and runs == [1, 1]  # recovered
    add_figure("faults_injected", len(files))


def _read_only(paths: list[Path]) -> Callable[[], None]:
    """Make ``paths`` read-only; returns the undo. Root ignores file modes, so as root
    the immutable attribute (``chattr +i``) is used instead; skips when neither works."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in paths}
        for p in paths:
            p.chmod(0o500 if p.is_dir() else 0o400)
        return lambda: [p.chmod(stat.S_IMODE(m)) for p, m in modes.items()] and None
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("running as root without chattr: no way to make a read-only directory")
    done = subprocess.run([chattr, "+i", *map(str, paths)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i is not allowed here: {done.stderr.decode().strip()}")
    return lambda: subprocess.run([chattr, "-i", *map(str, paths)], check=True) and None


def test_read_only_cache_dir(disk_kit: Callable[..., Any], box: Any, tmp_path: Path,
                             caplog: pytest.LogCaptureFixture) -> None:
    kit = disk_kit()
    first = kit.call("ec2", "describe_availability_zones", REGION)
    kit.close()
    tier = tmp_path / "tiered-v1"
    undo = _read_only([tier, *tier.iterdir()])
    try:
        kit = disk_kit()
        before = _requests(box)
        with caplog.at_level(logging.WARNING, logger="geuse_nb"):
            again = kit.call("ec2", "describe_availability_zones", REGION)
            other = [kit.call("ec2", "describe_availability_zones", "us-west-2")
                     for _ in range(3)]
        zones = first["AvailabilityZones"]
        assert again["AvailabilityZones"] == zones  # answered: from disk, or a miss
        assert all(o["AvailabilityZones"] == other[0]["AvailabilityZones"] for o in other)
        assert _requests(box) - before <= 4  # never more than one request per call
        assert caplog.records, "a read-only cache says so once"
        kit.close()
    finally:
        undo()
    add_figure("faults_injected", 1)
    add_figure("calls_made", 4)


def test_disk_size_limit_reached(disk_kit: Callable[..., Any]) -> None:
    kit = disk_kit(cache_disk_size_limit=1 << 20, cache_compression_enabled=False)

    @kit.cached
    def blob(n: int) -> bytes:
        return bytes([n % 256]) * 100_000

    for n in range(40):  # 4 MB into a 1 MB disk tier
        assert blob(n)[0] == n % 256
    stats = kit.cache.stats()
    disk = stats[stats["tier"] == "disk"]
    assert int(disk["bytes"].sum()) <= 2 * (1 << 20)  # diskcache culls back under the limit
    assert blob(39)[0] == 39  # the newest entries are still there or recomputed: no error
    add_figure("calls_made", 41)


def test_cache_dir_is_private(sandbox: Any, tmp_path: Path,
                              caplog: pytest.LogCaptureFixture) -> None:
    import geuse_nb as gn

    old = os.umask(0o002)  # a permissive umask must not make the cache readable
    try:
        root = tmp_path / "shared-root"
        root.mkdir(mode=0o777)
        root.chmod(0o777)
        with caplog.at_level(logging.WARNING, logger="geuse_nb"), \
                gn.Kit("mode", backend="sandbox", sandbox=sandbox, cache_dir=str(root)) as kit:
            kit.call("ec2", "describe_availability_zones", REGION)
            tier = kit.cache.directory
            assert stat.S_IMODE(tier.stat().st_mode) == 0o700
        assert any("can be written by other users" in r.getMessage() for r in caplog.records)
        root.chmod(0o700)
        private = tmp_path / "fresh"
        with gn.Kit("mode2", backend="sandbox", sandbox=sandbox, cache_dir=str(private)) as kit:
            kit.call("ec2", "describe_availability_zones", REGION)
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
        assert stat.S_IMODE((private / "tiered-v1").stat().st_mode) == 0o700
    finally:
        os.umask(old)
