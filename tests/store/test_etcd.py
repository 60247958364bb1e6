"""etcd-specific behaviour: an etcd restart, options, registration."""

from __future__ import annotations

import asyncio
import time

import pytest

from navarch.assembly import assemble
from navarch.config import load_config
from navarch.store import InvalidArgument, Unavailable
from navarch_store_etcd import EtcdOptions, EtcdStore
from navarch_store_etcd.testing import EtcdServer

# A store call that hangs instead of failing by its own deadline (timeout_seconds) is
# caught by this guard; how long the call took is never asserted (a busy machine).
HANG_GUARD = 60.0


async def test_writes_fail_fast_during_restart_and_watch_resumes_without_gaps(tmp_path):
    server = EtcdServer(tmp_path).start()
    store = EtcdStore.open(
        EtcdOptions(endpoints=(server.endpoint,), prefix="/restart", timeout_seconds=2)
    )
    seen = []
    try:
        start = await store.current_revision() + 1
        watch = store.watch(b"/w/", start)

        async def consume():
            async for event in watch:
                seen.append(event.revision)

        consumer = asyncio.create_task(consume())
        written = [await store.create(b"/w/before-%d" % i, b"v") for i in range(5)]

        server.stop()
        for i in range(3):  # every write fails by the store's own deadline: never a hang
            with pytest.raises(Unavailable, match="unavailable"):
                await asyncio.wait_for(store.create(b"/w/during-%d" % i, b"v"), HANG_GUARD)

        server.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                written.append(await store.create(b"/w/after-0", b"v"))
                break
            except Unavailable:
                assert time.monotonic() < deadline, "etcd did not come back"
                await asyncio.sleep(0.2)
        written += [await store.create(b"/w/after-%d" % i, b"v") for i in range(1, 5)]

        deadline = time.monotonic() + 30
        while len(seen) < len(written) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        consumer.cancel()
        assert seen == written  # in order, nothing missed, nothing twice
        assert written == list(range(start, start + 10))
    finally:
        await store.close()
        server.stop()


def test_options_are_checked_with_clear_messages():
    with pytest.raises(InvalidArgument, match="known: endpoints"):
        EtcdOptions.from_mapping({"endpoint": "x"})
    with pytest.raises(InvalidArgument, match="host:port"):
        EtcdOptions.from_mapping({"endpoints": ["localhost"]})
    with pytest.raises(InvalidArgument, match="go together"):
        EtcdOptions.from_mapping({"username": "root"})
    options = EtcdOptions.from_mapping(
        {"endpoints": ["127.0.0.1:1", "127.0.0.1:2"], "prefix": "/x"}
    )
    assert options.endpoints == ("127.0.0.1:1", "127.0.0.1:2")


async def test_unreachable_endpoints_are_unavailable_not_a_hang():
    store = EtcdStore.open(EtcdOptions(endpoints=("127.0.0.1:1", "127.0.0.1:2"), timeout_seconds=1))
    with pytest.raises(Unavailable):
        await asyncio.wait_for(store.get(b"/x"), HANG_GUARD)
    await store.close()


async def test_a_second_endpoint_serves_reads_when_the_first_is_down(etcd_server):
    store = EtcdStore.open(
        EtcdOptions(endpoints=("127.0.0.1:1", etcd_server.endpoint), prefix="/multi")
    )
    try:
        await store.current_revision()
        await store.create(b"/k", b"v")
        assert (await store.get(b"/k")).value == b"v"
    finally:
        await store.close()


async def test_both_stores_are_registered_and_chosen_by_configuration(etcd_server, tmp_path):
    config = load_config(file=None, env={}, overrides=["store.name=etcd"])
    entry = assemble(config).store()
    assert entry.plugin == "store-etcd"
    store = entry.value(
        {"endpoints": [etcd_server.endpoint], "prefix": "/configured"}, str(tmp_path)
    )
    try:
        await store.create(b"/k", b"v")
        assert (await store.get(b"/k")).value == b"v"
    finally:
        await store.close()
    lmdb = assemble(load_config(file=None, env={})).store()
    assert (lmdb.name, lmdb.plugin) == ("lmdb", "store-lmdb")
    store = lmdb.value({"history_minutes": 5}, str(tmp_path))
    await store.close()
