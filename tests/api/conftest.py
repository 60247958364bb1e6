"""One private API server (a real ``navarch server`` process on LMDB) per test module,
and, for tests of the request path's storage in-process, the generic storage over a
fresh LMDB store."""

from __future__ import annotations

import pytest
import pytest_asyncio

from navarch.apiserver.storage import Storage
from navarch.client import Client
from navarch.plugins import build_plugin_manager
from navarch.testing.apiserver import ApiServerProcess
from navarch_store_lmdb import LmdbStore


@pytest.fixture(scope="module")
def api_server(tmp_path_factory):
    with ApiServerProcess(tmp_path_factory.mktemp("apiserver")) as server:
        yield server


@pytest_asyncio.fixture
async def client(api_server):
    client = Client.from_kubeconfig(api_server.kubeconfig)
    yield client
    await client.close()


@pytest.fixture
async def storage(tmp_path):
    store = LmdbStore.open(tmp_path)
    yield Storage(store, build_plugin_manager(entry_points=False))
    await store.close()
