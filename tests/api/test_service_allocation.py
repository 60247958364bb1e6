"""ClusterIP / NodePort allocation records in the store (issue 24 item 3), in-process
over LMDB: a failed write gives back what it took, and the repair pass at start frees
records of Services that are gone and restores missing ones."""

from __future__ import annotations

import orjson
import pytest

from navarch.apiserver import errors
from navarch.apiserver.serviceallocation import IP_PREFIX, PORT_PREFIX, ServiceAllocator
from navarch.apiserver.storage import Storage
from navarch.resources.core.services import SERVICES
from navarch.store import NotFound


@pytest.fixture
def allocator(storage: Storage) -> ServiceAllocator:
    allocator = ServiceAllocator(storage.store, "10.43.0.0/16", range(30000, 32768))
    storage.write_hooks[SERVICES.group_resource] = allocator.begin
    storage.deletion_listeners.append(allocator.released)
    return allocator


def service(name: str, **spec) -> dict:
    spec.setdefault("ports", [{"port": 80}])
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


async def held(storage: Storage, key: bytes) -> bool:
    try:
        await storage.store.get(key)
    except NotFound:
        return False
    return True


async def test_a_write_that_fails_gives_back_what_it_allocated(storage, allocator):
    await storage.create(SERVICES, "default", service("web"))
    with pytest.raises(errors.ApiError) as refused:  # the name is taken
        await storage.create(
            SERVICES, "default", service("web", type="NodePort", clusterIP="10.43.0.50")
        )
    assert refused.value.reason == "AlreadyExists"
    assert not await held(storage, IP_PREFIX + b"10.43.0.50")
    assert [kv.key for kv in (await storage.store.range(PORT_PREFIX)).items] == []


async def test_repair_frees_records_of_deleted_services_and_restores_missing_ones(
    storage, allocator, monkeypatch
):
    written = await storage.create(SERVICES, "default", service("kept", clusterIP="10.43.0.60"))
    uid = written.obj["metadata"]["uid"]
    # A record whose Service is gone (a server died between the two writes), one of a
    # create still in flight (young: left alone), and a Service whose record is missing.
    stale = {"namespace": "default", "name": "gone", "uid": "x", "allocated": 0}
    await storage.store.create(IP_PREFIX + b"10.43.0.61", orjson.dumps(stale))
    young = {**stale, "allocated": 9e18}
    await storage.store.create(IP_PREFIX + b"10.43.0.62", orjson.dumps(young))
    await storage.store.delete(IP_PREFIX + b"10.43.0.60")

    await allocator.repair(SERVICES)

    assert not await held(storage, IP_PREFIX + b"10.43.0.61")
    assert await held(storage, IP_PREFIX + b"10.43.0.62")
    restored = orjson.loads((await storage.store.get(IP_PREFIX + b"10.43.0.60")).value)
    assert restored["uid"] == uid and restored["name"] == "kept"
