"""A damaged ``data.mdb`` is refused with its path, before LMDB maps it, and never changed.

A file shorter than its pages would otherwise be mapped and read past its end, and the
process die of SIGBUS with no message; a 0-byte file would be initialised as an empty
store, silently dropping the cluster's state. The opens that could crash run in a
child process, so a SIGBUS fails the test instead of killing pytest.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from navarch.store import Corrupt
from navarch_store_lmdb import LmdbStore

_OPEN_AND_USE = textwrap.dedent(
    """
    import asyncio, sys
    from navarch.store import Corrupt
    from navarch_store_lmdb import LmdbStore

    async def main():
        try:
            store = LmdbStore.open(sys.argv[1])
        except Corrupt as exc:
            print(f"Corrupt: {exc}")
            sys.exit(3)
        # Opened: read everything and write, as a server would, so a damaged
        # file shows here (SIGBUS) instead of passing unnoticed.
        items = (await store.range(b"")).items
        await store.create(b"/after", b"v")
        await store.close()
        print(f"opened: {len(items)} keys")

    asyncio.run(main())
    """
)


def _open_in_child(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _OPEN_AND_USE, str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def _fill(data_dir: Path, keys: int = 3000) -> Path:
    store = LmdbStore.open(data_dir)
    for start in range(0, keys, 500):
        await asyncio.gather(
            *(
                store.create(b"/k/%06d" % i, os.urandom(1500))
                for i in range(start, min(keys, start + 500))
            )
        )
    await store.create(b"/big", os.urandom(300_000))  # overflow pages too
    await store.close()
    return data_dir / "store" / "data.mdb"


@pytest.mark.parametrize("keep", [0.5, 0.9])
async def test_truncated_data_file_is_refused_with_its_path_and_kept(tmp_path, keep):
    data = await _fill(tmp_path)
    size = data.stat().st_size
    os.truncate(data, int(size * keep) // 4096 * 4096)
    before = _digest(data)

    result = _open_in_child(tmp_path)

    assert result.returncode == 3, (
        f"exit {result.returncode} (-7 is SIGBUS): {result.stdout} {result.stderr}"
    )
    assert f"Corrupt: {data} is truncated" in result.stdout
    assert "left untouched" in result.stdout and "backup" in result.stdout
    assert _digest(data) == before


async def test_truncated_to_a_size_that_is_not_whole_pages_is_refused(tmp_path):
    data = await _fill(tmp_path, keys=200)
    os.truncate(data, data.stat().st_size - 100)
    before = _digest(data)
    result = _open_in_child(tmp_path)
    assert result.returncode == 3, f"exit {result.returncode}: {result.stdout} {result.stderr}"
    assert str(data) in result.stdout
    assert _digest(data) == before


async def test_empty_data_file_is_refused_not_initialised(tmp_path):
    data = await _fill(tmp_path, keys=10)
    os.truncate(data, 0)
    with pytest.raises(Corrupt, match=f"{data} is empty") as info:
        LmdbStore.open(tmp_path)
    assert "backup" in str(info.value)
    assert data.stat().st_size == 0
    # Refused again on the next start: nothing was written in between.
    with pytest.raises(Corrupt):
        LmdbStore.open(tmp_path)


def test_file_too_short_for_its_header_is_refused(tmp_path):
    path = tmp_path / "store"
    path.mkdir()
    (path / "data.mdb").write_bytes(b"\xde\xc0\xef\xbe" * 4)
    with pytest.raises(Corrupt, match=str(path / "data.mdb")):
        LmdbStore.open(tmp_path)
    assert (path / "data.mdb").read_bytes() == b"\xde\xc0\xef\xbe" * 4


async def test_healthy_store_reopens_after_the_check(tmp_path):
    data = await _fill(tmp_path, keys=500)
    result = _open_in_child(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "opened: 501 keys" in result.stdout
    assert data.exists()


async def test_unwritten_free_pages_at_the_end_are_not_damage(tmp_path):
    # LMDB may record pages past the end of the file that it freed before ever writing
    # them (its header's last page is then beyond the file). Nothing in use is missing,
    # so the store must open: simulate it by raising the newest meta's last page.
    data = await _fill(tmp_path, keys=300)
    blob = bytearray(data.read_bytes())
    page_size = struct.unpack_from("=I", blob, 16 + 24)[0]
    metas = [16, page_size + 16]
    newest = max(metas, key=lambda at: struct.unpack_from("=Q", blob, at + 128)[0])
    last_page = struct.unpack_from("=Q", blob, newest + 120)[0]
    struct.pack_into("=Q", blob, newest + 120, last_page + 50)
    data.write_bytes(bytes(blob))

    result = _open_in_child(tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "opened: 301 keys" in result.stdout
