"""Opening a store's directory: the process lock, the LMDB environment, the format mark.

Each refuses with an error that names the path and says what to do, and leaves a
damaged or foreign file untouched.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import lmdb

from navarch.store.errors import Corrupt, Locked
from navarch_store_lmdb import records
from navarch_store_lmdb.options import LmdbOptions


def lock_data_dir(path: Path) -> int:
    """Lock ``path`` for this process (the lock file keeps its pid); the open fd holds it."""
    lock_path = path / "navarch.lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise Locked(
            f"data directory {path} is in use by another process (pid {holder}); stop that "
            "process or give this one another data_dir"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def open_env(path: Path, options: LmdbOptions) -> lmdb.Environment:
    try:
        return lmdb.open(
            str(path),
            map_size=options.map_size,
            max_dbs=4,
            subdir=True,
            mode=0o600,
            sync=True,
            metasync=True,
            readahead=False,
            max_readers=512,
            lock=True,
        )
    except (
        lmdb.InvalidError,
        lmdb.CorruptedError,
        lmdb.VersionMismatchError,
        lmdb.PageNotFoundError,
    ) as exc:
        raise Corrupt(
            f"{path / 'data.mdb'} is damaged or not an LMDB file ({exc}); it was left untouched. "
            "Restore it from a backup or move it away to start an empty store"
        ) from None


def check_format(env: lmdb.Environment, path: Path) -> None:
    """Accept a Navarch store or an empty environment (then mark it ours)."""
    named = {b"kv", b"log", b"meta"}
    try:
        with env.begin() as txn:
            foreign = [key for key, _ in txn.cursor() if key not in named]
            present = {key for key, _ in txn.cursor()} & named
        if foreign:
            raise Corrupt(
                f"{path / 'data.mdb'} is an LMDB file but not a Navarch store (it holds "
                f"{foreign[0]!r}); it was left untouched. Point data_dir elsewhere"
            )
        meta = env.open_db(b"meta")
        with env.begin(write=True) as txn:
            found = txn.get(records.META_FORMAT, db=meta)
            if found is None and present - {b"meta"}:
                raise Corrupt(f"{path / 'data.mdb'} has Navarch's tables but no format mark")
            if found is None:
                txn.put(records.META_FORMAT, records.FORMAT, db=meta)
            elif found != records.FORMAT:
                raise Corrupt(
                    f"{path / 'data.mdb'} is in format {found.decode(errors='replace')!r}; "
                    f"this version reads {records.FORMAT.decode()!r}"
                )
            env.open_db(b"kv", txn=txn)
            env.open_db(b"log", txn=txn)
    except lmdb.Error as exc:
        env.close()
        raise Corrupt(
            f"{path / 'data.mdb'} could not be read ({exc}); it was left untouched"
        ) from None
    except Corrupt:
        env.close()
        raise
