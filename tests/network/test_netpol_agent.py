"""The agent enforces NetworkPolicies when it is given an enforcer (the daemon makes
one from agent.network_policy_kubeconfig when a network plugin is on), and leaves the
table when it stops, as it leaves the Service proxy's: pods keep their network, and
so their isolation, while their agent is away (issue 24 item 9)."""

from __future__ import annotations

import asyncio
import contextlib

import attrs
from test_netpol_enforcer import _client_for

from navarch.agent.agent import Agent
from navarch.client import Client
from navarch.netpol.enforcer import PolicyEnforcer
from navarch.netpol.ruleset import Nft
from navarch.testing import netns
from navarch.testing.waiting import eventually
from tests.agent.conftest import FAST, build_runtime, identity


async def test_the_agent_runs_its_policy_enforcer_and_keeps_the_table_when_it_stops(
    api_server, tmp_path
):
    viewer = await _client_for(api_server, "viewer", "netpol-agent-test")
    with netns.namespaces("node") as (node,):
        nft = Nft(tuple(node.argv([])))
        enforcer = PolicyEnforcer(viewer, "netpol-agent-node", nft=nft)
        async with Client.from_kubeconfig(api_server.kubeconfig) as admin:
            agent = Agent(
                admin,
                build_runtime("sim", {}, tmp_path / "sim"),
                identity("netpol-agent-node"),
                attrs.evolve(FAST),
                policies=enforcer,
            )
            task = asyncio.create_task(agent.run())
            try:

                async def applied() -> bool:
                    return enforcer.syncs >= 1

                await eventually(applied, "the agent's enforcer applied its table")
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            listed = node.run(["nft", "list", "tables"]).stdout
            assert "navarch-policy" in listed, listed
    await viewer.close()
