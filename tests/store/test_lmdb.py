"""LMDB-specific guarantees: crash safety, one process per data directory, damaged
files reported (never re-initialised), permissions, map growth, compaction, full disk."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import lmdb
import pytest

from navarch.store import Compacted, Corrupt, Locked, NotFound, Unavailable
from navarch_store_lmdb import LmdbOptions, LmdbStore

HERE = Path(__file__).parent


async def test_sigkill_twenty_times_loses_no_acknowledged_write(tmp_path):
    acknowledged: list[str] = []
    rng = random.Random(1234)
    for round_ in range(20):
        proc = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "crash_writer.py"),
                str(tmp_path),
                str(round_ * 10_000_000),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        first = proc.stdout.readline()  # writing has started
        assert first, f"round {round_}: the writer did not start: {proc.stderr.read()}"
        time.sleep(rng.uniform(0.0, 0.5))  # then kill it at a random moment
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, err
        acknowledged += [first.strip(), *out.splitlines()]
        # Reopen with no repair step; every acknowledged write must be there.
        store = LmdbStore.open(tmp_path)
        try:
            present = {kv.key.decode() for kv in (await store.range(b"/crash/")).items}
        finally:
            await store.close()
        missing = [key for key in acknowledged if key not in present]
        assert not missing, f"round {round_}: {len(missing)} acknowledged writes lost"
    assert len(acknowledged) > 1000


async def test_second_process_fails_at_once_with_clear_message(tmp_path):
    store = LmdbStore.open(tmp_path)
    try:
        code = f"from navarch_store_lmdb import LmdbStore; LmdbStore.open({str(tmp_path)!r})"
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=30
        )
        assert result.returncode != 0
        assert "is in use by another process" in result.stderr
        assert f"pid {os.getpid()}" in result.stderr
        with pytest.raises(Locked):  # in this process too (a second open here)
            LmdbStore.open(tmp_path)
    finally:
        await store.close()
    LmdbStore.open(tmp_path)  # free again once closed


def test_data_directory_and_files_are_private(tmp_path):
    store = LmdbStore.open(tmp_path / "data")
    asyncio.run(_write_one(store))
    assert stat.S_IMODE(os.stat(tmp_path / "data" / "store").st_mode) == 0o700
    for name in ("data.mdb", "lock.mdb", "navarch.lock"):
        assert stat.S_IMODE(os.stat(tmp_path / "data" / "store" / name).st_mode) == 0o600, name


async def _write_one(store):
    await store.create(b"/k", b"v")
    await store.close()


def test_garbage_data_file_is_reported_with_its_path_and_kept(tmp_path):
    path = tmp_path / "store"
    path.mkdir()
    garbage = b"this is not an lmdb file " * 1000
    (path / "data.mdb").write_bytes(garbage)
    with pytest.raises(Corrupt, match=str(path / "data.mdb")):
        LmdbStore.open(tmp_path)
    assert (path / "data.mdb").read_bytes() == garbage  # never re-initialised


def test_foreign_lmdb_file_is_refused(tmp_path):
    path = tmp_path / "store"
    path.mkdir()
    env = lmdb.open(str(path))
    with env.begin(write=True) as txn:
        txn.put(b"someone-else", b"data")
    env.close()
    with pytest.raises(Corrupt, match="not a Navarch store"):
        LmdbStore.open(tmp_path)
    env = lmdb.open(str(path))
    with env.begin() as txn:
        assert txn.get(b"someone-else") == b"data"
    env.close()


async def test_damaged_pages_are_reported_not_repaired(tmp_path):
    store = LmdbStore.open(tmp_path)
    for i in range(2000):
        await store.create(b"/k/%05d" % i, os.urandom(200))
    await store.close()
    data = tmp_path / "store" / "data.mdb"
    blob = bytearray(data.read_bytes())
    # Both meta pages (the first two 4 KiB pages) overwritten: LMDB cannot trust the file.
    blob[0:8192] = os.urandom(8192)
    data.write_bytes(bytes(blob))
    with pytest.raises(Corrupt, match=str(data)):
        LmdbStore.open(tmp_path)


async def test_map_grows_on_its_own(tmp_path):
    store = LmdbStore.open(tmp_path, LmdbOptions(map_size=1 << 20))
    try:
        for i in range(40):
            await store.create(b"/grow/%d" % i, os.urandom(256 * 1024))  # 10 MiB in a 1 MiB map
        assert len((await store.range(b"/grow/")).items) == 40
        assert store._env.info()["map_size"] >= 16 << 20
    finally:
        await store.close()


async def test_history_window_by_revisions_compacts_in_small_steps(tmp_path):
    options = LmdbOptions(
        history_revisions=100, history_minutes=0, compact_interval_seconds=0.2, compact_step=50
    )
    store = LmdbStore.open(tmp_path, options)
    try:
        for i in range(1000):
            await store.create(b"/c/%04d" % i, b"v")
        deadline = time.monotonic() + 20
        while await store._compacted() < 901 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert await store._compacted() == 901
        with pytest.raises(Compacted):
            await store.range(b"/c/", revision=900)
        watch = store.watch(b"/c/", 901)
        event = await asyncio.wait_for(watch.__anext__(), 5)
        await watch.aclose()
        assert event.revision == 901
        # Writes went on while compacting; current values are all kept.
        assert len((await store.range(b"/c/")).items) == 1000
        # The mark comes first; the removal follows in steps of 50 after it.
        while await store._log_entries() > 100 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert await store._log_entries() == 100
    finally:
        await store.close()


async def test_full_disk_is_a_clear_error_and_loses_nothing(tmp_path):
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount_point)], check=True)
    store = None
    try:
        store = LmdbStore.open(mount_point, LmdbOptions(map_size=64 << 20))
        written = []
        with pytest.raises(Unavailable, match="disk is full"):
            for i in range(1000):
                key = b"/full/%04d" % i
                await store.create(key, os.urandom(64 * 1024))
                written.append(key)
        assert written, "nothing fitted at all"
        # The store still serves, and everything acknowledged is there.
        for key in written:
            assert len((await store.get(key)).value) == 64 * 1024
        with pytest.raises(NotFound):
            await store.get(b"/full/%04d" % len(written))
        await store.close()
        store = LmdbStore.open(mount_point)  # reopens with no repair step
        assert [kv.key for kv in (await store.range(b"/full/")).items] == written
    finally:
        if store is not None:
            await store.close()
        subprocess.run(["umount", str(mount_point)], check=True)


def test_unknown_option_names_the_known_ones():
    from navarch.store import InvalidArgument

    with pytest.raises(InvalidArgument, match=r"unknown option.*map_sise.*known: map_size"):
        LmdbOptions.from_mapping({"map_sise": 1})
    with pytest.raises(InvalidArgument, match="history_minutes = -1"):
        LmdbOptions.from_mapping({"history_minutes": -1})
