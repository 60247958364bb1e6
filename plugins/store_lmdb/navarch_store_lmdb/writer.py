"""Group commit: writes queued by any number of tasks, committed by one writer thread.

Each flush takes up to ``max_batch`` queued operations and applies them in one LMDB
write transaction with one durable commit; then every caller of that batch resumes
and the batch's events go to the watchers. A write that fails its own check (exists,
not found, conflict) fails alone; a commit that fails applies nothing of its batch.
A transaction that fills LMDB's map doubles the map (behind the gate, see ``gate``)
and runs again. The event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import lmdb
from loguru import logger

from navarch.store.contract import DELETE, PUT, Event, KeyValue
from navarch.store.errors import AlreadyExists, Conflict, NotFound, StoreError, Unavailable
from navarch_store_lmdb import compaction, records
from navarch_store_lmdb.gate import Gate
from navarch_store_lmdb.options import LmdbOptions
from navarch_store_lmdb.tables import Tables

log = logger.bind(component="store-lmdb")

OP_CREATE, OP_UPDATE, OP_DELETE, OP_COMPACT_MARK, OP_COMPACT_STEP = range(5)
_FULL_DISK_BYTES = 64 << 20  # a failed commit with less free space than this: disk full


@attrs.frozen
class Op:
    """One queued write; ``expected`` is the revision a write compares with, or the
    revision a compaction mark compacts to."""

    kind: int
    key: bytes = b""
    value: bytes = b""
    expected: int | None = None


class Writer:
    """The queue of writes of one environment and the thread that commits them."""

    def __init__(
        self,
        path: Path,
        env: lmdb.Environment,
        tables: Tables,
        gate: Gate,
        options: LmdbOptions,
        publish: Callable[[list[Event]], None],
    ):
        self._path = path
        self._env = env
        self._tables = tables
        self._gate = gate
        self._options = options
        self._publish = publish
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="lmdb-writer")
        self._pending: list[tuple[Op, asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None

    def enqueue(self, op: Op) -> asyncio.Future[Any]:
        """Queue ``op`` for the next commit; its future gets the result, or the error
        as a value."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((op, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        return future

    async def drain(self) -> None:
        """Wait until everything queued is committed or failed."""
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)

    def shutdown(self) -> None:
        self._thread.shutdown(wait=True)

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch = self._pending[: self._options.max_batch]
            del self._pending[: self._options.max_batch]
            ops = [op for op, _ in batch]
            try:
                results, events = await loop.run_in_executor(self._thread, self._commit, ops)
            except Exception as exc:  # the commit itself failed: nothing in it happened
                log.bind(error=repr(exc), ops=len(ops)).error("commit failed")
                results, events = [_unavailable(self._path, exc)] * len(ops), []
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
            if events:
                self._publish(events)

    def _commit(self, ops: list[Op]) -> tuple[list[Any], list[Event]]:
        """Runs on the writer thread: one transaction, one durable commit."""
        while True:
            try:
                with self._gate.shared():
                    return self._apply(ops)
            except lmdb.MapFullError:
                self._grow_map()

    def _apply(self, ops: list[Op]) -> tuple[list[Any], list[Event]]:
        txn = self._env.begin(write=True)
        try:
            revision = self._tables.revision(txn)
            now = time.time()
            results: list[Any] = []
            events: list[Event] = []
            for op in ops:
                if op.kind == OP_COMPACT_MARK:
                    results.append(
                        compaction.mark_compacted(txn, self._tables, op.expected or 0, revision)
                    )
                    continue
                if op.kind == OP_COMPACT_STEP:
                    results.append(
                        compaction.remove_compacted(txn, self._tables, self._options.compact_step)
                    )
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
                    db=self._tables.log,
                )
                events.append(event)
                results.append(result)
            if events:
                txn.put(
                    records.META_REVISION, records.encode_revision(revision), db=self._tables.meta
                )
            txn.commit()
            return results, events
        except BaseException:
            txn.abort()
            raise

    def _apply_write(
        self, txn: lmdb.Transaction[bytes], op: Op, revision: int
    ) -> tuple[Event, Any]:
        kv = self._tables.kv
        raw = txn.get(op.key, db=kv)
        old = records.decode_value(op.key, raw) if raw is not None else None
        if op.kind == OP_CREATE:
            if old is not None:
                raise AlreadyExists(op.key, old.mod_revision)
            new = KeyValue(op.key, op.value, revision, revision, 1)
            txn.put(op.key, records.encode_value(revision, revision, 1, op.value), db=kv)
            return Event(PUT, new, None), revision
        if old is None:
            raise NotFound(op.key)
        if op.expected is not None and op.expected != old.mod_revision:
            raise Conflict(op.key, op.expected, current=old)
        if op.kind == OP_UPDATE:
            new = KeyValue(op.key, op.value, old.create_revision, revision, old.version + 1)
            txn.put(
                op.key,
                records.encode_value(new.create_revision, revision, new.version, op.value),
                db=kv,
            )
            return Event(PUT, new, old), revision
        txn.delete(op.key, db=kv)
        tombstone = KeyValue(op.key, b"", 0, revision, 0)
        return Event(DELETE, tombstone, old), attrs.evolve(old, mod_revision=revision)

    def _grow_map(self) -> None:
        with self._gate.exclusive():
            size = self._env.info()["map_size"] * 2
            self._env.set_mapsize(size)
        log.bind(path=str(self._path), map_size=size).info("grew the store's map")


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
