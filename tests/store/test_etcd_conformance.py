"""The store conformance suite against a real etcd started by the fixture."""

from __future__ import annotations

import pytest_asyncio

from navarch.testing.store import StoreConformance
from navarch_store_etcd import EtcdOptions, EtcdStore


class TestEtcdConformance(StoreConformance):
    @pytest_asyncio.fixture
    async def store(self, etcd_server, etcd_namespace):
        store = EtcdStore.open(
            EtcdOptions(endpoints=(etcd_server.endpoint,), prefix=etcd_namespace)
        )
        yield store
        await store.close()
