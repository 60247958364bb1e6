"""Watch edge cases that need their own server settings: compacted history (410 Gone),
bookmarks, and a watcher too slow to keep up."""

from __future__ import annotations

import asyncio
import socket
import ssl

import aiohttp
import orjson
import pytest
import pytest_asyncio

from navarch.client import Client, Gone
from navarch.client.kubeconfig import load_kubeconfig
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.waiting import eventually


@pytest.fixture(scope="module")
def api_server(tmp_path_factory):
    settings = {
        "store": {
            "name": "lmdb",
            "options": {
                "history_revisions": 20,
                "history_minutes": 0,
                "compact_interval_seconds": 0.2,
            },
        },
    }
    with ApiServerProcess(
        tmp_path_factory.mktemp("apiserver-small-history"), settings=settings
    ) as server:
        yield server


@pytest_asyncio.fixture
async def client(api_server):
    client = Client.from_kubeconfig(api_server.kubeconfig)
    yield client
    await client.close()


def _small_receive_buffer(addr_info: tuple) -> socket.socket:
    family, kind, proto, _, _ = addr_info
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
    return sock


def _event(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name},
        "involvedObject": {"kind": "Pod", "name": "x", "namespace": "default"},
        "reason": "Test",
        "message": "m",
        "type": "Normal",
    }


async def _compacted_past(client: Client, page) -> None:
    """Wait until history holds nothing from before ``page`` (a list taken earlier):
    its continue token is refused as too old once compaction (every 0.2 s) went past."""

    async def refused() -> bool:
        try:
            await client.events.list("default", limit=5, continue_token=page.continue_token)
        except Gone:
            return True
        return False

    await eventually(refused, "history compacted past an earlier list")


async def test_watch_from_compacted_history_is_410_gone(client):
    first = await client.events.create(_event("e-first"), namespace="default")
    await client.events.create(_event("e-second"), namespace="default")
    page = await client.events.list("default", limit=1)
    for i in range(60):
        await client.events.create(_event(f"e-{i}"), namespace="default")
    await _compacted_past(client, page)
    with pytest.raises(Gone) as info:
        async for _ in client.events.watch(
            "default", resource_version=first.metadata.resource_version
        ):
            pass
    assert info.value.code == 410
    assert "too old resource version" in info.value.status["message"]


async def test_list_continue_from_compacted_history_is_410(client):
    page = await client.events.list("default", limit=5)
    assert page.continue_token
    for i in range(60):
        await client.events.create(_event(f"later-{i}"), namespace="default")
    await _compacted_past(client, page)  # the refusal itself is what is tested


async def test_slow_watcher_is_closed_with_an_error_event(api_server, client):
    """A client that reads nothing: its buffer (1,000 events) fills and the server ends
    the stream with an ERROR event instead of holding anything up."""
    config = load_kubeconfig(api_server.kubeconfig)
    context = ssl.create_default_context(cadata=config.ca_data.decode())
    current = (await client.events.list("default")).resource_version
    headers = {"Authorization": f"Bearer {config.token}"}
    url = f"{api_server.url}/api/v1/namespaces/default/events?watch=1&resourceVersion={current}"
    # A small, fixed receive buffer: the kernel would otherwise grow it (tcp_rmem's
    # maximum, 32 MiB here) until it held every event, and the server's queue would
    # never fill (the test then waited for an end that never came).
    connector = aiohttp.TCPConnector(socket_factory=_small_receive_buffer)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.get(url, headers=headers, ssl=context, read_bufsize=2**16) as response,
    ):
        assert response.status == 200
        # A fast writer while this reader sleeps; events are ~500 bytes each, so
        # the kernel and client buffers hold only a fraction of 3,000 events.
        big = "x" * 4000
        for start in range(0, 3000, 100):
            await asyncio.gather(
                *(
                    client.events.create(
                        {**_event(f"slow-{i}"), "message": big}, namespace="default"
                    )
                    for i in range(start, start + 100)
                )
            )
        lines = []
        async with asyncio.timeout(120):  # bounded: a stream that never ends fails
            async for line in response.content:
                lines.append(orjson.loads(line))
        # Meanwhile other clients were served normally (the writes above succeeded).
    assert lines[-1]["type"] == "ERROR"
    assert lines[-1]["object"]["code"] == 410
    assert "too slow" in lines[-1]["object"]["message"]
    assert len(lines) < 3001


async def test_bookmarks_arrive_while_nothing_changes(api_server, client):
    config = load_kubeconfig(api_server.kubeconfig)
    context = ssl.create_default_context(cadata=config.ca_data.decode())
    current = (await client.events.list("default", limit=1)).resource_version
    url = (
        f"{api_server.url}/api/v1/namespaces/default/events?watch=1&resourceVersion={current}"
        "&allowWatchBookmarks=true&timeoutSeconds=12"
    )
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            url, headers={"Authorization": f"Bearer {config.token}"}, ssl=context
        ) as response,
    ):
        lines = [orjson.loads(line) async for line in response.content]
    assert lines and all(line["type"] == "BOOKMARK" for line in lines)
    assert lines[0]["object"]["metadata"]["resourceVersion"] == current
