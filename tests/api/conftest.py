"""For tests of the request path's storage in-process: the generic storage over a fresh
LMDB store (the API server process and its client come from tests/conftest.py)."""

from __future__ import annotations

import pytest

from navarch.apiserver.storage import Storage
from navarch.plugins import build_plugin_manager
from navarch_store_lmdb import LmdbStore


@pytest.fixture
async def storage(tmp_path):
    store = LmdbStore.open(tmp_path)
    yield Storage(store, build_plugin_manager(entry_points=False))
    await store.close()
