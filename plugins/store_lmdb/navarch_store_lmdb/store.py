"""The LMDB store: current values + a revision log in one environment, group commit.

Writes from any number of tasks queue up; one writer thread commits everything
queued as one LMDB transaction with one durable commit (group commit), then every
caller of that batch resumes and the batch's events go to the watchers. Reads run
in short read transactions. The event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import time
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import attrs
import lmdb
from loguru import logger

from navarch.store.contract import (
    DELETE,
    PUT,
    Event,
    KeyValue,
    RangeResult,
    Store,
    check_key,
    check_value,
    prefix_end,
)
from navarch.store.errors import (
    AlreadyExists,
    Compacted,
    Conflict,
    Corrupt,
    InvalidArgument,
    Locked,
    NotFound,
    StoreError,
    Unavailable,
)
from navarch_store_lmdb import records
from navarch_store_lmdb.datafile import check_data_file
from navarch_store_lmdb.gate import Gate
from navarch_store_lmdb.options import LmdbOptions
from navarch_store_lmdb.watchhub import Lagging, WatchHub

T = TypeVar("T")
log = logger.bind(component="store-lmdb")

_CREATE, _UPDATE, _DELETE, _COMPACT_MARK, _COMPACT_STEP = range(5)
_REPLAY_CHUNK = 1_000  # log records read per replay step
_FULL_DISK_BYTES = 64 << 20  # a failed commit with less free space than this: disk full


@attrs.frozen
class _Op:
    kind: int
    key: bytes = b""
    value: bytes = b""
    expected: int | None = None


class LmdbStore(Store):
    """Open with :meth:`open`; see the module docstring for the design."""

    def __init__(self, path: Path, env: lmdb.Environment, lock_fd: int, options: LmdbOptions):
        self.path = path
        self.options = options
        self._env = env
        self._lock_fd = lock_fd
        self._kv = env.open_db(b"kv")
        self._log = env.open_db(b"log")
        self._meta = env.open_db(b"meta")
        self._gate = Gate()
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="lmdb-writer")
        self._readers = ThreadPoolExecutor(2, thread_name_prefix="lmdb-reader")
        self._pending: list[tuple[_Op, asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._compactor: asyncio.Task[None] | None = None
        self._hub = WatchHub()
        self._closed = False

    # --- opening ---------------------------------------------------------------------

    @classmethod
    def open(
        cls, data_dir: str | os.PathLike[str], options: LmdbOptions | None = None
    ) -> LmdbStore:
        """Open (or create) the store under ``data_dir/store``.

        Fails at once with Locked when another process has it open, and with Corrupt
        (naming the file) when the file is damaged or not a Navarch store.
        """
        options = options or LmdbOptions()
        path = Path(data_dir) / "store"
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)
        lock_fd = _lock(path)
        try:
            # Before LMDB maps the file: a truncated one would crash the process
            # (SIGBUS) and an empty one be initialised as a new store.
            check_data_file(path / "data.mdb")
            env = _open_env(path, options)
            _check_format(env, path)
        except BaseException:
            os.close(lock_fd)
            raise
        for name in ("data.mdb", "lock.mdb"):
            if (path / name).exists():
                os.chmod(path / name, 0o600)
        store = cls(path, env, lock_fd, options)
        log.bind(path=str(path), revision=store._read(store._meta_revision)).info("store opened")
        return store

    # --- reads -----------------------------------------------------------------------

    async def get(self, key: bytes) -> KeyValue:
        check_key(key)
        self._check_open()
        record = self._read(lambda txn: txn.get(key, db=self._kv))
        if record is None:
            raise NotFound(key)
        return records.decode_value(key, record)

    async def range(
        self,
        prefix: bytes,
        *,
        limit: int = 0,
        continue_from: bytes | None = None,
        revision: int | None = None,
    ) -> RangeResult:
        if not isinstance(prefix, bytes):
            raise InvalidArgument(f"prefix must be bytes, got {type(prefix).__name__}")
        if limit < 0:
            raise InvalidArgument(f"limit must be >= 0, got {limit}")
        self._check_open()
        return await self._in_thread(
            self._readers,
            self._read,
            lambda txn: self._range(txn, prefix, limit, continue_from, revision),
        )

    def _range(
        self,
        txn: lmdb.Transaction[bytes],
        prefix: bytes,
        limit: int,
        after: bytes | None,
        revision: int | None,
    ) -> RangeResult:
        current = self._meta_revision(txn)
        compacted = self._meta_compacted(txn)
        if revision is not None and revision > 0:
            if revision > current:
                raise InvalidArgument(f"revision {revision} is in the future (current {current})")
            if revision < compacted:
                raise Compacted(revision, compacted)
        read_at = revision if revision else current
        start = max(prefix, after) if after else prefix
        end = prefix_end(prefix)

        def in_range(key: bytes) -> bool:
            return key >= start and (not end or key < end)

        # Undo the changes made after read_at: the earliest change of each key after
        # read_at carries the key's state at read_at as its previous value.
        undo: dict[bytes, KeyValue | None] = {}
        if read_at < current:
            cursor = txn.cursor(db=self._log)
            if cursor.set_range(records.encode_revision(read_at + 1)):
                for raw_rev, record in cursor:
                    changed = records.event_key(record)
                    if changed not in undo and in_range(changed):
                        event, _ = records.decode_event(records.decode_revision(raw_rev), record)
                        undo[changed] = event.prev_kv
        undo_keys = sorted(undo)

        items: list[KeyValue] = []
        wanted = limit + 1 if limit else 0
        cursor = txn.cursor(db=self._kv)
        positioned = cursor.set_range(start)
        u = 0
        while not wanted or len(items) < wanted:
            key = cursor.key() if positioned else None
            if key is not None and end and key >= end:
                key = None
            undo_key = undo_keys[u] if u < len(undo_keys) else None
            if key is None and undo_key is None:
                break
            if undo_key is not None and (key is None or undo_key <= key):
                previous = undo[undo_key]
                if previous is not None:
                    items.append(previous)
                u += 1
                if key == undo_key:
                    positioned = cursor.next()
            else:
                assert key is not None  # no undo key before it, and not both absent
                items.append(records.decode_value(key, cursor.value()))
                positioned = cursor.next()
        if wanted and len(items) == wanted:
            return RangeResult(tuple(items[:limit]), read_at, True, items[limit].key)
        return RangeResult(tuple(items), read_at)

    async def current_revision(self) -> int:
        self._check_open()
        return self._read(self._meta_revision)

    # --- writes ----------------------------------------------------------------------

    async def create(self, key: bytes, value: bytes) -> int:
        check_key(key)
        check_value(key, value, self.options.max_value_bytes)
        return await self._submit(_Op(_CREATE, key, value))

    async def update(self, key: bytes, value: bytes, expected_revision: int | None) -> int:
        check_key(key)
        check_value(key, value, self.options.max_value_bytes)
        return await self._submit(_Op(_UPDATE, key, value, expected_revision))

    async def delete(self, key: bytes, expected_revision: int | None = None) -> KeyValue:
        check_key(key)
        return await self._submit(_Op(_DELETE, key, expected=expected_revision))

    async def compact(self, revision: int) -> None:
        current = await self.current_revision()
        if revision > current:
            raise InvalidArgument(f"cannot compact at {revision}: current revision is {current}")
        await self._submit(_Op(_COMPACT_MARK, expected=revision))
        # Physical removal goes on in small steps, interleaved with writes.
        while await self._submit(_Op(_COMPACT_STEP)) >= self.options.compact_step:
            pass

    async def _submit(self, op: _Op) -> Any:
        self._check_open()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((op, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        if self._compactor is None and self._auto_compaction_enabled():
            self._compactor = loop.create_task(self._compact_periodically())
        result = await future
        if isinstance(result, BaseException):
            raise result
        return result

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch = self._pending[: self.options.max_batch]
            del self._pending[: self.options.max_batch]
            ops = [op for op, _ in batch]
            try:
                results, events = await loop.run_in_executor(self._writer, self._commit, ops)
            except Exception as exc:  # the commit itself failed: nothing in it happened
                log.bind(error=repr(exc), ops=len(ops)).error("commit failed")
                results, events = [_unavailable(self.path, exc)] * len(ops), []
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
            if events:
                self._hub.publish(events)

    def _commit(self, ops: list[_Op]) -> tuple[list[Any], list[Event]]:
        """Runs on the writer thread: one transaction, one durable commit."""
        while True:
            try:
                with self._gate.shared():
                    return self._apply(ops)
            except lmdb.MapFullError:
                self._grow_map()

    def _apply(self, ops: list[_Op]) -> tuple[list[Any], list[Event]]:
        txn = self._env.begin(write=True)
        try:
            revision = self._meta_revision(txn)
            now = time.time()
            results: list[Any] = []
            events: list[Event] = []
            for op in ops:
                if op.kind in (_COMPACT_MARK, _COMPACT_STEP):
                    results.append(self._apply_compaction(txn, op, revision))
                    continue
                try:
                    event, result = self._apply_write(txn, op, revision + 1)
                except StoreError as exc:
                    results.append(exc)
                    continue
                revision += 1
                txn.put(
                    records.encode_revision(revision),
                    records.encode_event(event, now),
                    db=self._log,
                )
                events.append(event)
                results.append(result)
            if events:
                txn.put(records.META_REVISION, records.encode_revision(revision), db=self._meta)
            txn.commit()
            return results, events
        except BaseException:
            txn.abort()
            raise

    def _apply_write(
        self, txn: lmdb.Transaction[bytes], op: _Op, revision: int
    ) -> tuple[Event, Any]:
        raw = txn.get(op.key, db=self._kv)
        old = records.decode_value(op.key, raw) if raw is not None else None
        if op.kind == _CREATE:
            if old is not None:
                raise AlreadyExists(op.key, old.mod_revision)
            new = KeyValue(op.key, op.value, revision, revision, 1)
            txn.put(op.key, records.encode_value(revision, revision, 1, op.value), db=self._kv)
            return Event(PUT, new, None), revision
        if old is None:
            raise NotFound(op.key)
        if op.expected is not None and op.expected != old.mod_revision:
            raise Conflict(op.key, op.expected, current=old)
        if op.kind == _UPDATE:
            new = KeyValue(op.key, op.value, old.create_revision, revision, old.version + 1)
            txn.put(
                op.key,
                records.encode_value(new.create_revision, revision, new.version, op.value),
                db=self._kv,
            )
            return Event(PUT, new, old), revision
        txn.delete(op.key, db=self._kv)
        tombstone = KeyValue(op.key, b"", 0, revision, 0)
        return Event(DELETE, tombstone, old), attrs.evolve(old, mod_revision=revision)

    def _apply_compaction(self, txn: lmdb.Transaction[bytes], op: _Op, revision: int) -> int:
        compacted = self._meta_compacted(txn)
        if op.kind == _COMPACT_MARK:
            target = min(op.expected or 0, revision)
            if target > compacted:
                txn.put(records.META_COMPACTED, records.encode_revision(target), db=self._meta)
            return 0
        removed = 0
        cursor = txn.cursor(db=self._log)
        if cursor.first():
            while removed < self.options.compact_step:
                if records.decode_revision(cursor.key()) >= compacted:
                    break
                removed += 1
                if not cursor.delete():
                    break
        return removed

    def _grow_map(self) -> None:
        with self._gate.exclusive():
            size = self._env.info()["map_size"] * 2
            self._env.set_mapsize(size)
        log.bind(path=str(self.path), map_size=size).info("grew the store's map")

    # --- watch -----------------------------------------------------------------------

    async def watch(self, prefix: bytes, from_revision: int = 0) -> AsyncGenerator[Event, None]:
        if not isinstance(prefix, bytes):
            raise InvalidArgument(f"prefix must be bytes, got {type(prefix).__name__}")
        self._check_open()
        next_revision = from_revision if from_revision > 0 else self._read(self._meta_revision) + 1
        while True:
            # Subscribe first, then replay the log: anything committed after the
            # subscription is in its buffer, anything before is in the log, and
            # revisions already delivered are skipped, so nothing is missed or repeated.
            subscription = self._hub.subscribe(prefix)
            try:
                while True:
                    events, next_revision, done = await self._in_thread(
                        self._readers,
                        self._read,
                        lambda txn, start=next_revision: self._replay(txn, prefix, start),
                    )
                    for event in events:
                        yield event
                    if done:
                        break
                while True:
                    event = await subscription.next()
                    if event is None:
                        raise Unavailable(f"store {self.path} was closed")
                    if event.revision >= next_revision:
                        next_revision = event.revision + 1
                        yield event
            except Lagging:
                log.bind(prefix=prefix, revision=next_revision).debug(
                    "watcher catching up from log"
                )
            finally:
                self._hub.unsubscribe(subscription)

    def _replay(
        self, txn: lmdb.Transaction[bytes], prefix: bytes, start: int
    ) -> tuple[list[Event], int, bool]:
        compacted = self._meta_compacted(txn)
        if start < compacted:
            raise Compacted(start, compacted)
        events: list[Event] = []
        next_revision = start
        cursor = txn.cursor(db=self._log)
        if not cursor.set_range(records.encode_revision(start)):
            return events, next_revision, True
        for scanned, (raw_rev, record) in enumerate(cursor):
            if scanned == _REPLAY_CHUNK:
                return events, next_revision, False
            revision = records.decode_revision(raw_rev)
            next_revision = revision + 1
            if records.event_key(record).startswith(prefix):
                events.append(records.decode_event(revision, record)[0])
        return events, next_revision, True

    # --- compaction --------------------------------------------------------------------

    def _auto_compaction_enabled(self) -> bool:
        options = self.options
        return options.compact_interval_seconds > 0 and bool(
            options.history_revisions or options.history_minutes
        )

    async def _compact_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.options.compact_interval_seconds)
            try:
                target = await self._in_thread(self._readers, self._read, self._compaction_target)
                if target > self._read(self._meta_compacted):
                    started = time.monotonic()
                    await self.compact(target)
                    log.bind(revision=target, seconds=round(time.monotonic() - started, 3)).info(
                        "compacted history"
                    )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep compacting later; never kill the store
                log.bind(error=repr(exc)).warning("history compaction failed; will retry")

    def _compaction_target(self, txn: lmdb.Transaction[bytes]) -> int:
        """The revision below which history is outside both windows (0: nothing)."""
        current = self._meta_revision(txn)
        targets = []
        if self.options.history_revisions:
            targets.append(max(0, current - self.options.history_revisions + 1))
        if self.options.history_minutes:
            cutoff = time.time() - self.options.history_minutes * 60
            by_time = current + 1
            cursor = txn.cursor(db=self._log)
            if cursor.set_range(records.encode_revision(self._meta_compacted(txn))):
                for raw_rev, record in cursor:
                    if records.event_time(record) >= cutoff:
                        by_time = records.decode_revision(raw_rev)
                        break
            targets.append(min(by_time, current))
        return min(targets) if targets else 0

    async def _compacted(self) -> int:
        """The oldest revision still in history (for tests and metrics)."""
        return self._read(self._meta_compacted)

    async def _log_entries(self) -> int:
        return self._read(lambda txn: txn.stat(self._log)["entries"])

    # --- lifecycle ---------------------------------------------------------------------

    async def close(self) -> None:
        if self._closed:
            return
        for task in (self._compactor,):
            if task is not None:
                task.cancel()
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        self._closed = True
        self._hub.close()
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        with self._gate.exclusive():
            self._env.close()
        os.close(self._lock_fd)
        log.bind(path=str(self.path)).info("store closed")

    # --- helpers -----------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise Unavailable(f"store {self.path} is closed")

    def _read(self, fn: Callable[[lmdb.Transaction[bytes]], T]) -> T:
        with self._gate.shared(), self._env.begin(buffers=False) as txn:
            return fn(txn)

    async def _in_thread(self, pool: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    def _meta_revision(self, txn: lmdb.Transaction[bytes]) -> int:
        raw = txn.get(records.META_REVISION, db=self._meta)
        return records.decode_revision(raw) if raw else 0

    def _meta_compacted(self, txn: lmdb.Transaction[bytes]) -> int:
        raw = txn.get(records.META_COMPACTED, db=self._meta)
        return records.decode_revision(raw) if raw else 0


def _lock(path: Path) -> int:
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


def _open_env(path: Path, options: LmdbOptions) -> lmdb.Environment:
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


def _check_format(env: lmdb.Environment, path: Path) -> None:
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


def _unavailable(path: Path, exc: BaseException) -> Unavailable:
    # LMDB reports a short write on a full disk as EIO, so ask the filesystem.
    stats = os.statvfs(path)
    free = stats.f_bavail * stats.f_frsize
    if "No space left" in str(exc) or free < _FULL_DISK_BYTES:
        return Unavailable(
            f"store {path}: the disk is full ({free} bytes free; {exc}); the write was not "
            "applied and nothing written before is lost. Free space and retry"
        )
    return Unavailable(f"store {path}: write failed ({exc!r}); the write was not applied")
