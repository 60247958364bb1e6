"""Large lists: whole or an explicit error, memory bounded (issue 29 item 1).

api.max_list_bytes_in_flight is 1 MiB here and the list is about 8 MiB. A client that
asks for it and does not read holds the budget (its body cannot be written past the
socket buffers): a second list is answered 429 with Retry-After, at once and whole.
When the first client goes away, the server logs the body it could not finish, and the
next list is complete: its body as long as its Content-Length, every object in it.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest
import pytest_asyncio

from navarch.client import Client
from navarch.client.kubeconfig import load_kubeconfig
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.waiting import eventually

PODS = 200
PAD = 40 * 1024  # bytes of annotation a pod: 200 pods make about 8 MiB


@pytest.fixture(scope="module")
def api_server(tmp_path_factory):
    with ApiServerProcess(
        tmp_path_factory.mktemp("apiserver-lists"),
        settings={"api": {"max_list_bytes_in_flight": 1 << 20}},
    ) as server:
        yield server


@pytest_asyncio.fixture
async def session(api_server) -> AsyncIterator[tuple[aiohttp.ClientSession, str, ssl.SSLContext]]:
    config = load_kubeconfig(api_server.kubeconfig)
    context = ssl.create_default_context(cadata=config.ca_data.decode())
    headers = {"Authorization": f"Bearer {config.token}", "Accept": "application/json"}
    async with aiohttp.ClientSession(
        headers=headers, connector=aiohttp.TCPConnector(ssl=context)
    ) as http:
        yield http, config.token or "", context


async def make_pods(api_server: ApiServerProcess) -> None:
    """The pods of the list (each test may run in a process of its own with its own
    server; the module's tests share them otherwise)."""
    async with Client.from_kubeconfig(api_server.kubeconfig) as client:
        existing = {pod.metadata.name for pod in (await client.pods.list("default")).items}
        await asyncio.gather(
            *(
                client.pods.create(
                    {
                        "metadata": {"name": name, "annotations": {"pad": "x" * PAD}},
                        "spec": {"containers": [{"name": "c", "image": "127.0.0.1:5000/a:1"}]},
                    },
                    "default",
                )
                for name in (f"p{i:03d}" for i in range(PODS))
                if name not in existing
            )
        )


async def test_a_large_list_is_whole_or_refused_with_429(api_server, session):
    http, token, context = session
    await make_pods(api_server)
    url = f"{api_server.url}/api/v1/namespaces/default/pods"

    # A client that asks and never reads past the status line.
    # Its receive buffer is small, so the server cannot write the body away into the
    # kernel's buffers (the sender's side holds at most tcp_wmem's 4 MiB of the 8 MiB).
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, ("127.0.0.1", api_server.port))
    reader, writer = await asyncio.open_connection(
        sock=raw, ssl=context, server_hostname="127.0.0.1"
    )
    writer.write(
        f"GET /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nAccept: application/json\r\n\r\n".encode()
    )
    await writer.drain()
    status_line = await reader.readline()
    assert b" 200 " in status_line

    async with http.get(url) as refused:
        assert refused.status == 429
        assert refused.headers["Retry-After"] == "1"
        assert (await refused.json())["reason"] == "TooManyRequests"

    writer.transport.abort()  # the first client goes away with most of its body unsent

    def logged() -> bool:
        return "list body not sent whole" in api_server.log_path.read_text()

    async def check_logged() -> bool:
        return logged()

    await eventually(check_logged, "the server logs the list it could not finish", [api_server])

    async def whole() -> bool:
        async with http.get(url) as response:
            if response.status == 429:
                return False
            body = await response.read()
            assert response.status == 200
            assert len(body) == int(response.headers["Content-Length"])
            assert len(orjson.loads(body)["items"]) == PODS
            return True

    await eventually(whole, "a complete list once the budget is free", [api_server])


async def test_navarch_client_lists_while_the_budget_is_spent_retrying_429(api_server):
    """Navarch's client retries 429 after Retry-After: concurrent lists all succeed."""
    await make_pods(api_server)
    async with Client.from_kubeconfig(api_server.kubeconfig, retries=30) as client:
        lists = await asyncio.gather(*(client.pods.list("default") for _ in range(4)))
    assert [len(listed.items) for listed in lists] == [PODS] * 4
