"""/readyz says "not ready" while the store refuses writes (a full disk: reads still
answer), and ready again once a write succeeds (issue 8, item 12)."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from navarch.apiserver.app import Api
from navarch.apiserver.auth import TokenFile
from navarch.plugins import build_plugin_manager
from navarch.resources.core import NAMESPACES
from navarch.store import Unavailable
from navarch_store_lmdb import LmdbStore


class FillingDisk(LmdbStore):
    """An LMDB store whose writes fail while ``full`` is set, as on a full disk."""

    full = False

    async def create(self, key: bytes, value: bytes) -> int:
        if self.full:
            raise Unavailable("no space left on device (test)")
        return await super().create(key, value)


async def test_readyz_reports_a_store_that_refuses_writes(tmp_path):
    store = FillingDisk.open(tmp_path / "store")
    api = Api(
        store,
        build_plugin_manager(entry_points=False),
        TokenFile(tmp_path / "t.csv").load_or_create(),
    )
    api.ready = True
    namespaces = NAMESPACES
    client = TestClient(TestServer(api.app()))
    await client.start_server()
    try:
        assert (await client.get("/readyz")).status == 200
        store.full = True
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}
        try:
            await api.storage.create(namespaces, "", dict(body))
        except Exception as exc:  # the API error for the failed write
            assert getattr(exc, "code", None) == 503
        else:
            raise AssertionError("the write should have failed")
        answer = await client.get("/readyz")
        assert answer.status == 503
        assert "does not accept writes" in (await answer.json())["message"]
        store.full = False
        await api.storage.create(namespaces, "", dict(body))
        assert (await client.get("/readyz")).status == 200
    finally:
        await client.close()
        await api.close()
        await store.close()
