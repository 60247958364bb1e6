"""History compaction: which revisions fall outside the history kept, and their removal.

Compaction is two kinds of write (queued like any other, see ``writer``): a mark that
raises the ``compacted`` counter at once — reads and watches from below it fail with
Compacted from then on — and steps that each delete at most ``compact_step`` log
records below it, so the physical removal goes on in small transactions interleaved
with other writes.
"""

from __future__ import annotations

import time

import lmdb

from navarch_store_lmdb import records
from navarch_store_lmdb.options import LmdbOptions
from navarch_store_lmdb.tables import Tables


def auto_compaction_enabled(options: LmdbOptions) -> bool:
    return options.compact_interval_seconds > 0 and bool(
        options.history_revisions or options.history_minutes
    )


def compaction_target(txn: lmdb.Transaction[bytes], tables: Tables, options: LmdbOptions) -> int:
    """The revision below which history is outside both windows (0: nothing)."""
    current = tables.revision(txn)
    targets = []
    if options.history_revisions:
        targets.append(max(0, current - options.history_revisions + 1))
    if options.history_minutes:
        cutoff = time.time() - options.history_minutes * 60
        by_time = current + 1
        cursor = txn.cursor(db=tables.log)
        if cursor.set_range(records.encode_revision(tables.compacted(txn))):
            for raw_rev, record in cursor:
                if records.event_time(record) >= cutoff:
                    by_time = records.decode_revision(raw_rev)
                    break
        targets.append(min(by_time, current))
    return min(targets) if targets else 0


def mark_compacted(txn: lmdb.Transaction[bytes], tables: Tables, target: int, revision: int) -> int:
    """Raise the ``compacted`` counter to ``target`` (never past ``revision``, the
    current one, nor down); 0, as the writer's result."""
    compacted = tables.compacted(txn)
    target = min(target, revision)
    if target > compacted:
        txn.put(records.META_COMPACTED, records.encode_revision(target), db=tables.meta)
    return 0


def remove_compacted(txn: lmdb.Transaction[bytes], tables: Tables, step: int) -> int:
    """Delete up to ``step`` log records below the ``compacted`` counter; how many."""
    compacted = tables.compacted(txn)
    removed = 0
    cursor = txn.cursor(db=tables.log)
    if cursor.first():
        while removed < step:
            if records.decode_revision(cursor.key()) >= compacted:
                break
            removed += 1
            if not cursor.delete():
                break
    return removed
