"""The agent's /metrics on its streaming port (issue 21 item 10): what the agent
counts (relists, heartbeats, pod syncs) as Prometheus text, for a token the API
server allows to ``get nodes/metrics``, and 401 without one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
import attrs
import pytest_asyncio

from navarch.agent.agent import Agent
from navarch.agent.daemon import streaming_for
from navarch.client import Client, load_kubeconfig
from navarch.testing.images import BUSYBOX_IMAGE
from tests.agent.conftest import FAST, build_runtime, eventually, identity, pod_body
from tests.agent.looked import (
    HEARTBEATS,
    RELIST_ERRORS,
    RELISTS,
    RELISTS_FINISHED,
    SYNCS,
    agent_metrics,
    counted,
)

NODE = "metrics-1"


@pytest_asyncio.fixture
async def agent(client: Client, api_server, tmp_path) -> AsyncIterator[Agent]:  # type: ignore[no-untyped-def]
    settings = attrs.evolve(FAST, address="127.0.0.1", port=0, data_dir=tmp_path / "agent")
    runtime = build_runtime("sim", {}, tmp_path / "runtime")
    kubeconfig = load_kubeconfig(api_server.kubeconfig)
    agent = Agent(
        client, runtime, identity(NODE), settings, streaming=streaming_for(kubeconfig, settings)
    )
    task = asyncio.create_task(agent.run())
    try:
        yield agent
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_the_agent_serves_its_counters_at_metrics(client: Client, agent: Agent) -> None:
    await counted(client, NODE, RELISTS_FINISHED, 2)
    await client.pods.create(pod_body("counted", NODE, image=BUSYBOX_IMAGE))

    async def running() -> bool:
        pod = await client.pods.get("counted", "default")
        return bool(pod.status and pod.status.phase == "Running")

    await eventually(running, "the pod Running")
    await counted(client, NODE, SYNCS, 1, since=0)
    found = await agent_metrics(client, NODE)
    assert found is not None
    # what the agent counted itself, read after the scrape: never below it
    assert 1 <= found[SYNCS] <= agent.syncs
    assert 2 <= found[RELISTS] <= agent.relists + agent.relist_errors
    assert found[RELIST_ERRORS] == agent.relist_errors == 0
    assert 1 <= found[HEARTBEATS] <= agent.node.heartbeats
    assert found["navarch_agent_node_heartbeat_errors_total"] == 0
    assert found["navarch_agent_pod_workers"] == 1
    assert found["navarch_agent_node_ready"] == 1
    await client.pods.delete("counted", "default", grace_period_seconds=0)


async def test_metrics_need_a_token_the_api_server_allows(client: Client, agent: Agent) -> None:
    await counted(client, NODE, RELISTS, 1)  # the port is up and published
    port = agent.identity.port
    url = f"https://127.0.0.1:{port}/metrics"
    async with aiohttp.ClientSession() as session:
        async with session.get(url, ssl=False) as anonymous:
            assert anonymous.status == 401, await anonymous.text()
        bad = {"Authorization": "Bearer not-a-token"}
        async with session.get(url, headers=bad, ssl=False) as unknown:
            assert unknown.status == 401, await unknown.text()
