"""Navarch's embedded store backend, registered under the name ``lmdb``."""

from __future__ import annotations

from typing import Any

from loguru import logger

from navarch import hookimpl
from navarch_store_lmdb.options import LmdbOptions
from navarch_store_lmdb.store import LmdbStore

__all__ = ["LmdbOptions", "LmdbStore"]

logger.disable(__name__)  # silent as a library; entry points enable it (navarch.logs)


def open_store(options: dict[str, Any], data_dir: str) -> LmdbStore:
    return LmdbStore.open(data_dir, LmdbOptions.from_mapping(options))


@hookimpl
def navarch_register_stores(register) -> None:
    register("lmdb", open_store)
