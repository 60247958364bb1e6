"""The store conformance suite against the embedded LMDB store."""

from __future__ import annotations

import pytest_asyncio

from navarch.testing.store import StoreConformance
from navarch_store_lmdb import LmdbOptions, LmdbStore


class TestLmdbConformance(StoreConformance):
    @pytest_asyncio.fixture
    async def store(self, tmp_path):
        # A small first map so every run also exercises the map growing on its own.
        store = LmdbStore.open(tmp_path, LmdbOptions(map_size=8 << 20))
        yield store
        await store.close()
