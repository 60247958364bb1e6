"""Navarch's embedded store backend, registered under the name ``lmdb``."""

from __future__ import annotations

from navarch import hookimpl
from navarch.logs import quiet_until_configured
from navarch_store_lmdb.options import LmdbOptions
from navarch_store_lmdb.store import LmdbStore

__all__ = ["LmdbOptions", "LmdbStore"]

# Silent as a library; logs once an entry point configured logging, even if this
# module is imported after that (navarch.logs decides).
quiet_until_configured(__name__)


def open_store(options: LmdbOptions, data_dir: str) -> LmdbStore:
    return LmdbStore.open(data_dir, options)


@hookimpl
def navarch_register_stores(register) -> None:
    register("lmdb", open_store, options=LmdbOptions)
