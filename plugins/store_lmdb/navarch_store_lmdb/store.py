"""The LMDB store: current values + a revision log in one environment, group commit.

Writes from any number of tasks queue up; one writer thread commits everything
queued as one LMDB transaction with one durable commit (group commit, in
``writer``), then every caller of that batch resumes and the batch's events go to
the watchers. Reads run in short read transactions (past revisions and watch replay
in ``history``). The event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import lmdb
from loguru import logger

from navarch.store.contract import (
    Event,
    KeyValue,
    RangeResult,
    Store,
    check_key,
    check_value,
)
from navarch.store.errors import InvalidArgument, NotFound, Unavailable
from navarch_store_lmdb import compaction, history, records
from navarch_store_lmdb.datafile import check_data_file
from navarch_store_lmdb.gate import Gate
from navarch_store_lmdb.opening import check_format, lock_data_dir, open_env
from navarch_store_lmdb.options import LmdbOptions
from navarch_store_lmdb.tables import Tables
from navarch_store_lmdb.watchhub import Lagging, WatchHub
from navarch_store_lmdb.writer import (
    OP_COMPACT_MARK,
    OP_COMPACT_STEP,
    OP_CREATE,
    OP_DELETE,
    OP_UPDATE,
    Op,
    Writer,
)

T = TypeVar("T")
log = logger.bind(component="store-lmdb")


class LmdbStore(Store):
    """Open with :meth:`open`; see the module docstring for the design."""

    def __init__(self, path: Path, env: lmdb.Environment, lock_fd: int, options: LmdbOptions):
        self.path = path
        self.options = options
        self._env = env
        self._lock_fd = lock_fd
        self._tables = Tables.open(env)
        self._gate = Gate()
        self._hub = WatchHub()
        self._writer = Writer(path, env, self._tables, self._gate, options, self._hub.publish)
        self._readers = ThreadPoolExecutor(2, thread_name_prefix="lmdb-reader")
        self._compactor: asyncio.Task[None] | None = None
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
        lock_fd = lock_data_dir(path)
        try:
            # Before LMDB maps the file: a truncated one would crash the process
            # (SIGBUS) and an empty one be initialised as a new store.
            check_data_file(path / "data.mdb")
            env = open_env(path, options)
            check_format(env, path)
        except BaseException:
            os.close(lock_fd)
            raise
        for name in ("data.mdb", "lock.mdb"):
            if (path / name).exists():
                os.chmod(path / name, 0o600)
        store = cls(path, env, lock_fd, options)
        log.bind(path=str(path), revision=store._read(store._tables.revision)).info("store opened")
        return store

    # --- reads -----------------------------------------------------------------------

    async def get(self, key: bytes) -> KeyValue:
        check_key(key)
        self._check_open()
        record = self._read(lambda txn: txn.get(key, db=self._tables.kv))
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
            lambda txn: history.read_range(
                txn, self._tables, prefix, limit, continue_from, revision
            ),
        )

    async def current_revision(self) -> int:
        self._check_open()
        return self._read(self._tables.revision)

    # --- writes ----------------------------------------------------------------------

    async def create(self, key: bytes, value: bytes) -> int:
        check_key(key)
        check_value(key, value, self.options.max_value_bytes)
        return await self._submit(Op(OP_CREATE, key, value))

    async def update(self, key: bytes, value: bytes, expected_revision: int | None) -> int:
        check_key(key)
        check_value(key, value, self.options.max_value_bytes)
        return await self._submit(Op(OP_UPDATE, key, value, expected_revision))

    async def delete(self, key: bytes, expected_revision: int | None = None) -> KeyValue:
        check_key(key)
        return await self._submit(Op(OP_DELETE, key, expected=expected_revision))

    async def compact(self, revision: int) -> None:
        current = await self.current_revision()
        if revision > current:
            raise InvalidArgument(f"cannot compact at {revision}: current revision is {current}")
        await self._submit(Op(OP_COMPACT_MARK, expected=revision))
        # Physical removal goes on in small steps, interleaved with writes.
        while await self._submit(Op(OP_COMPACT_STEP)) >= self.options.compact_step:
            pass

    async def _submit(self, op: Op) -> Any:
        self._check_open()
        future = self._writer.enqueue(op)
        if self._compactor is None and compaction.auto_compaction_enabled(self.options):
            loop = asyncio.get_running_loop()
            self._compactor = loop.create_task(self._compact_periodically())
        result = await future
        if isinstance(result, BaseException):
            raise result
        return result

    # --- watch -----------------------------------------------------------------------

    async def watch(self, prefix: bytes, from_revision: int = 0) -> AsyncGenerator[Event, None]:
        if not isinstance(prefix, bytes):
            raise InvalidArgument(f"prefix must be bytes, got {type(prefix).__name__}")
        self._check_open()
        next_revision = (
            from_revision if from_revision > 0 else self._read(self._tables.revision) + 1
        )
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
                        lambda txn, start=next_revision: history.replay(
                            txn, self._tables, prefix, start
                        ),
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

    # --- compaction --------------------------------------------------------------------

    async def _compact_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.options.compact_interval_seconds)
            try:
                target = await self._in_thread(
                    self._readers,
                    self._read,
                    lambda txn: compaction.compaction_target(txn, self._tables, self.options),
                )
                if target > self._read(self._tables.compacted):
                    started = time.monotonic()
                    await self.compact(target)
                    log.bind(revision=target, seconds=round(time.monotonic() - started, 3)).info(
                        "compacted history"
                    )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep compacting later; never kill the store
                log.bind(error=repr(exc)).warning("history compaction failed; will retry")

    async def _compacted(self) -> int:
        """The oldest revision still in history (for tests and metrics)."""
        return self._read(self._tables.compacted)

    async def _log_entries(self) -> int:
        return self._read(lambda txn: txn.stat(self._tables.log)["entries"])

    # --- lifecycle ---------------------------------------------------------------------

    async def close(self) -> None:
        if self._closed:
            return
        for task in (self._compactor,):
            if task is not None:
                task.cancel()
        await self._writer.drain()
        self._closed = True
        self._hub.close()
        self._writer.shutdown()
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
