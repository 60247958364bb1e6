"""Reads that go through the revision log: a range as it was at a past revision, and
the replay of the changes a watch has not seen yet. Both run in a read transaction."""

from __future__ import annotations

import lmdb

from navarch.store.contract import Event, KeyValue, RangeResult, prefix_end
from navarch.store.errors import Compacted, InvalidArgument
from navarch_store_lmdb import records
from navarch_store_lmdb.tables import Tables

REPLAY_CHUNK = 1_000  # log records read per replay step


def read_range(
    txn: lmdb.Transaction[bytes],
    tables: Tables,
    prefix: bytes,
    limit: int,
    after: bytes | None,
    revision: int | None,
) -> RangeResult:
    """The keys under ``prefix`` (after ``after``, at most ``limit``) as they were at
    ``revision`` (None or 0: now)."""
    current = tables.revision(txn)
    compacted = tables.compacted(txn)
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
        cursor = txn.cursor(db=tables.log)
        if cursor.set_range(records.encode_revision(read_at + 1)):
            for raw_rev, record in cursor:
                changed = records.event_key(record)
                if changed not in undo and in_range(changed):
                    event, _ = records.decode_event(records.decode_revision(raw_rev), record)
                    undo[changed] = event.prev_kv
    undo_keys = sorted(undo)

    items: list[KeyValue] = []
    wanted = limit + 1 if limit else 0
    cursor = txn.cursor(db=tables.kv)
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


def replay(
    txn: lmdb.Transaction[bytes], tables: Tables, prefix: bytes, start: int
) -> tuple[list[Event], int, bool]:
    """The changes under ``prefix`` from revision ``start`` on, at most ``REPLAY_CHUNK``
    log records' worth: the events, the next revision to read, and whether the log
    ended."""
    compacted = tables.compacted(txn)
    if start < compacted:
        raise Compacted(start, compacted)
    events: list[Event] = []
    next_revision = start
    cursor = txn.cursor(db=tables.log)
    if not cursor.set_range(records.encode_revision(start)):
        return events, next_revision, True
    for scanned, (raw_rev, record) in enumerate(cursor):
        if scanned == REPLAY_CHUNK:
            return events, next_revision, False
        revision = records.decode_revision(raw_rev)
        next_revision = revision + 1
        if records.event_key(record).startswith(prefix):
            events.append(records.decode_event(revision, record)[0])
    return events, next_revision, True
