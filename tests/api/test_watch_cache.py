"""The shared watch fan-out under store trouble, and bookmarks that move with the
resource even when a watcher's filter matches nothing (in-process, real LMDB)."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from navarch.apiserver.app import Api, ServerSettings
from navarch.apiserver.auth import TokenFile
from navarch.apiserver.errors import ApiError
from navarch.apiserver.watchcache import Subscription, WatchCache
from navarch.plugins import build_plugin_manager
from navarch.resources.core import NAMESPACES, PODS
from navarch.store import Unavailable
from navarch_store_lmdb import LmdbStore

DEADLINE = 30.0


class FlakyStore(LmdbStore):
    """current_revision fails while ``failing`` is set (a store that went away)."""

    failing = False

    async def current_revision(self) -> int:
        if self.failing:
            raise Unavailable("the store went away (test)")
        return await super().current_revision()


async def test_a_store_failure_at_start_answers_410_instead_of_hanging(tmp_path):
    store = FlakyStore.open(tmp_path)
    store.failing = True
    cache = WatchCache(store)
    try:
        subscription = Subscription(asyncio.Queue(10), "", 1, None, None)
        with pytest.raises(ApiError) as info:
            await asyncio.wait_for(cache.subscribe(PODS, subscription), DEADLINE)
        assert info.value.code == 410
        store.failing = False  # the store is back: the fan-out restarts and serves again

        async def served():
            while True:
                try:
                    fresh = Subscription(asyncio.Queue(10), "", 1, None, None)
                    return await cache.subscribe(PODS, fresh)
                except ApiError:
                    await asyncio.sleep(0.1)

        assert await asyncio.wait_for(served(), DEADLINE) is not None
    finally:
        await cache.close()
        await store.close()


async def test_bookmarks_move_although_the_filter_matches_nothing(tmp_path):
    store = LmdbStore.open(tmp_path / "store")
    tokens = TokenFile(tmp_path / "tokens.csv").load_or_create()
    api = Api(
        store,
        build_plugin_manager(entry_points=False),
        tokens,
        ServerSettings(bookmark_seconds=0.2),
    )
    api.ready = True
    for name in ("quiet", "busy"):
        await api.storage.create(NAMESPACES, "", {"metadata": {"name": name}})
    client = TestClient(TestServer(api.app()))
    await client.start_server()
    headers = {"Authorization": f"Bearer {tokens.token_for('admin')}"}
    try:
        response = await client.get(
            "/api/v1/namespaces/quiet/pods?watch=1&allowWatchBookmarks=true&resourceVersion=0",
            headers=headers,
        )
        written = [
            await api.storage.create(
                PODS,
                "busy",
                {
                    "metadata": {"name": f"p{i}"},
                    "spec": {"containers": [{"name": "c", "image": "i"}]},
                },
            )
            for i in range(3)
        ]
        newest = int(written[-1].obj["metadata"]["resourceVersion"])

        async def bookmark_at_newest():
            async for line in response.content:
                event = orjson.loads(line)
                assert event["type"] == "BOOKMARK"  # nothing in "quiet" ever changes
                if int(event["object"]["metadata"]["resourceVersion"]) >= newest:
                    return True
            return False

        assert await asyncio.wait_for(bookmark_at_newest(), DEADLINE)
        response.close()
    finally:
        await client.close()
        await api.close()
        await store.close()
