"""The client's retries: at least what Retry-After asks, exponential back-off, and random
jitter so that callers told the same Retry-After do not all come back at once."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from navarch.client import Client
from navarch.client.client import MAX_BACKOFF, retry_delay
from navarch.client.kubeconfig import KubeConfig


def test_retry_after_is_a_floor_and_jitter_spreads_callers_over_as_much_again():
    assert retry_delay(0, "1", rand=lambda: 0.0) == 1.0
    assert retry_delay(0, "1", rand=lambda: 0.5) == 1.5
    assert retry_delay(0, "1", rand=lambda: 0.999) == pytest.approx(1.999)
    # Sixty callers told "Retry-After: 1" at once come back at sixty different moments.
    spread = {retry_delay(0, "1", rand=lambda i=i: i / 60) for i in range(60)}
    assert len(spread) == 60 and min(spread) >= 1.0 and max(spread) < 2.0


def test_back_off_doubles_and_is_capped():
    waits = [retry_delay(attempt, rand=lambda: 0.0) for attempt in range(12)]
    assert waits[:4] == pytest.approx([0.1, 0.2, 0.4, 0.8])
    assert waits == sorted(waits) and waits[-1] == MAX_BACKOFF
    # Retry-After larger than the back-off wins; smaller loses to it.
    assert retry_delay(0, "3", rand=lambda: 0.0) == 3.0
    assert retry_delay(6, "1", rand=lambda: 0.0) == pytest.approx(6.4)


@pytest.mark.parametrize("header", ["Wed, 21 Oct 2026 07:28:00 GMT", "soon", "-5", ""])
def test_retry_after_that_is_not_seconds_counts_as_no_advice(header):
    assert retry_delay(0, header, rand=lambda: 0.0) == pytest.approx(0.1)


async def test_the_client_retries_429_until_the_server_answers():
    answers = {"count": 0}

    async def handler(request: web.Request) -> web.Response:
        answers["count"] += 1
        if answers["count"] <= 3:
            return web.json_response(
                {"kind": "Status", "code": 429, "reason": "TooManyRequests"},
                status=429,
                headers={"Retry-After": "0"},
            )
        return web.json_response({"kind": "NamespaceList", "items": [], "metadata": {}})

    app = web.Application()
    app.router.add_get("/api/v1/namespaces", handler)
    async with TestServer(app, host="127.0.0.1") as server:
        client = Client(KubeConfig(server=str(server.make_url(""))), retries=5)
        try:
            listed = await client.namespaces.list()
        finally:
            await client.close()
    assert listed.items == () and answers["count"] == 4
