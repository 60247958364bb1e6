"""Proof that an agent looked, for tests that assert something did *not* happen (a
container started twice, a pod cleaned up while the runtime was away): they wait for
the agent's own counters to advance past their value at the moment that matters,
never for a fixed time.

An agent in this process is read directly (``Agent.relists``, ``Agent.syncs``); an
agent process through its ``/metrics`` (:mod:`navarch.agent.metrics`), on the port
its Node publishes, with the test's admin token."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from navarch import api
from navarch.agent.agent import Agent
from navarch.client import Client
from tests.agent.conftest import eventually

RELISTS = "navarch_agent_relists_total"
RELIST_ERRORS = "navarch_agent_relist_errors_total"
HEARTBEATS = "navarch_agent_node_heartbeats_total"
SYNCS = "navarch_agent_pod_syncs_total"
# Not a metric: relists that finished (the runtime answered), RELISTS - RELIST_ERRORS.
RELISTS_FINISHED = "relists finished"


async def relisted(agent: Agent, times: int = 2) -> None:
    """Return once ``agent`` finished ``times`` more relists than it had now: the
    first may have been under way already, the others started after this call."""
    start = agent.relists

    async def advanced() -> bool:
        return agent.relists >= start + times

    await eventually(advanced, f"{times} relists of {agent.node_name}'s agent")


async def synced(agent: Agent, times: int = 2, since: int | None = None) -> None:
    """Return once ``agent`` finished ``times`` more pod syncs than now (or than
    ``since``: 0 for an agent just started)."""
    start = agent.syncs if since is None else since

    async def advanced() -> bool:
        return agent.syncs >= start + times

    await eventually(advanced, f"{times} pod syncs of {agent.node_name}'s agent")


async def agent_metrics(client: Client, node: str) -> dict[str, float] | None:
    """The agent's counters and gauges (name -> value) from its /metrics on the port
    its Node publishes; None while it does not answer (starting, restarting)."""
    raw = await client.nodes.get(node)
    status = (raw if isinstance(raw, dict) else api.dump(raw)).get("status") or {}
    port = status.get("daemonEndpoints", {}).get("kubeletEndpoint", {}).get("Port")
    if not port:
        return None
    headers = {"Authorization": f"Bearer {client.config.token}"}
    timeout = aiohttp.ClientTimeout(total=10)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"https://127.0.0.1:{port}/metrics", headers=headers, ssl=False) as got,
        ):
            if got.status != 200:
                raise AssertionError(f"/metrics of {node}: HTTP {got.status}: {await got.text()}")
            text = await got.text()
    except (aiohttp.ClientConnectionError, TimeoutError):
        return None
    found = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    found[RELISTS_FINISHED] = found.get(RELISTS, 0) - found.get(RELIST_ERRORS, 0)
    return found


async def counted(
    client: Client, node: str, name: str, times: int = 2, since: float | None = None
) -> None:
    """Return once the agent process of ``node`` counted ``times`` more of ``name`` (a
    counter of :mod:`navarch.agent.metrics`, or RELISTS_FINISHED) than now — or than
    ``since`` (0 for an agent just restarted, whose counters start again)."""
    start = await _read(client, node, name) if since is None else since

    async def advanced() -> bool:
        found = await agent_metrics(client, node)
        return found is not None and found.get(name, 0) >= start + times

    await eventually(advanced, f"{name} of {node}'s agent up by {times}")


async def _read(client: Client, node: str, name: str) -> float:
    async def read() -> dict[str, float] | None:
        return await agent_metrics(client, node)

    found = await eventually(read, f"{node}'s agent answering on /metrics")
    return float(found.get(name, 0))
