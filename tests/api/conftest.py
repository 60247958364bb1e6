"""One private API server (a real ``navarch server`` process on LMDB) per test module."""

from __future__ import annotations

import pytest
import pytest_asyncio

from navarch.client import Client
from navarch.testing.apiserver import ApiServerProcess


@pytest.fixture(scope="module")
def api_server(tmp_path_factory):
    with ApiServerProcess(tmp_path_factory.mktemp("apiserver")) as server:
        yield server


@pytest_asyncio.fixture
async def client(api_server):
    client = Client.from_kubeconfig(api_server.kubeconfig)
    yield client
    await client.close()
