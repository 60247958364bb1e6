"""The in-flight request limit: 429 with Retry-After, and the client backing off.

Nothing here depends on the machine's speed: the server must refuse some of a burst,
and every client call must end up answered; how long that takes is not asserted.
"""

from __future__ import annotations

import asyncio
import ssl

import aiohttp
import orjson
import pytest
import pytest_asyncio

from navarch.client import Client
from navarch.client.kubeconfig import load_kubeconfig
from navarch.testing.apiserver import ApiServerProcess


@pytest.fixture(scope="module")
def api_server(tmp_path_factory):
    with ApiServerProcess(
        tmp_path_factory.mktemp("apiserver-limited"), settings={"api": {"max_inflight": 2}}
    ) as server:
        yield server


@pytest_asyncio.fixture
async def client(api_server):
    # Enough retries that only a server that never recovers could exhaust them: with
    # jittered waits of 1-2 s, every round serves some of the callers.
    client = Client.from_kubeconfig(api_server.kubeconfig, retries=30)
    yield client
    await client.close()


async def test_too_many_requests_in_flight_is_429_and_the_client_backs_off(api_server, client):
    """api.max_inflight is 2 here: a burst gets 429 with Retry-After; Navarch's client
    retries by itself and every call succeeds."""
    config = load_kubeconfig(api_server.kubeconfig)
    context = ssl.create_default_context(cadata=config.ca_data.decode())
    headers = {"Authorization": f"Bearer {config.token}"}
    url = f"{api_server.url}/api/v1/namespaces/default/events"
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=context, limit=200)
    ) as session:

        async def one():
            async with session.get(url, headers=headers) as response:
                body = orjson.loads(await response.read())
                return response.status, response.headers.get("Retry-After"), body

        answers = await asyncio.gather(*(one() for _ in range(150)))
    limited = [a for a in answers if a[0] == 429]
    assert limited, "no request was limited"
    assert all(a[1] == "1" and a[2]["reason"] == "TooManyRequests" for a in limited)
    assert {a[0] for a in answers} <= {200, 429}
    results = await asyncio.gather(*(client.events.list("default", limit=1) for _ in range(60)))
    assert len(results) == 60 and all(r.resource_version for r in results)
