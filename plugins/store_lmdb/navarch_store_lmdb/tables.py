"""The three named databases of a store's environment, and the counters ``meta`` keeps.

The layouts of what each holds are in ``records``.
"""

from __future__ import annotations

import attrs
import lmdb

from navarch_store_lmdb import records


@attrs.frozen
class Tables:
    kv: lmdb._Database
    log: lmdb._Database
    meta: lmdb._Database

    @classmethod
    def open(cls, env: lmdb.Environment) -> Tables:
        return cls(env.open_db(b"kv"), env.open_db(b"log"), env.open_db(b"meta"))

    def revision(self, txn: lmdb.Transaction[bytes]) -> int:
        """The revision of the last write (0 in an empty store)."""
        raw = txn.get(records.META_REVISION, db=self.meta)
        return records.decode_revision(raw) if raw else 0

    def compacted(self, txn: lmdb.Transaction[bytes]) -> int:
        """The oldest revision still in history (0 when never compacted)."""
        raw = txn.get(records.META_COMPACTED, db=self.meta)
        return records.decode_revision(raw) if raw else 0
