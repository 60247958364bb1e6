"""The agent runs the Service proxy when ``agent.service_proxy`` is ``nftables``, and
leaves its table when it stops, as kube-proxy does (pods keep their network while
their agent is away, so they keep their Services); ``navarch agent --cleanup`` removes
it (issue 24 item 5). The proxy acts on the namespace the
agent runs in; this test runs the agent in its own process, so the proxy's nft is
pointed into a test namespace instead of the host's."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import Iterator

import attrs
import pytest

from navarch.agent import agent as agent_module
from navarch.agent.agent import Agent
from navarch.client import Client
from navarch.proxy import proxier as proxier_module
from navarch.proxy.apply import Nft
from navarch.proxy.ruleset import NodeView, build, full_script
from navarch.testing import netns
from navarch.testing.waiting import eventually
from tests.agent.conftest import FAST, build_runtime, identity


@pytest.fixture(autouse=True)
def host_untouched() -> Iterator[None]:
    """The host's own nft tables are the same after each test as before."""

    def tables() -> str:
        return subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout

    before = tables()
    yield
    assert tables() == before


async def test_agent_runs_the_proxy_and_keeps_its_table_when_it_stops(
    api_server, tmp_path, monkeypatch
):
    with netns.namespaces("node") as (node,):
        nft = Nft(tuple(node.argv([])))
        made = []

        def in_the_node_namespace(client, node_name, mode):
            proxier = proxier_module.for_agent(client, node_name, mode)
            if proxier is not None:
                proxier.nft = nft
                made.append(proxier)
            return proxier

        monkeypatch.setattr(agent_module, "service_proxy_for", in_the_node_namespace)
        async with Client.from_kubeconfig(api_server.kubeconfig) as client:
            kubernetes = await client.services.get("kubernetes", "default")
            agent = Agent(
                client,
                build_runtime("sim", {}, tmp_path / "sim"),
                identity("proxy-agent-node"),
                attrs.evolve(FAST, service_proxy="nftables"),
            )
            task = asyncio.create_task(agent.run())
            try:
                # The kubernetes Service's ClusterIP is proxied to the API server.
                await eventually(
                    lambda: _listed(nft, f"{kubernetes.spec.cluster_ip} . tcp . 443"),
                    "the agent's proxy wrote the kubernetes Service",
                )
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            assert made and made[0].syncs >= 1
            assert "navarch-proxy" in await nft.run(["list", "tables"])
            assert await _listed(nft, f"{kubernetes.spec.cluster_ip} . tcp . 443")


async def _listed(nft: Nft, text: str) -> bool:
    return text in await nft.run(["list", "ruleset"])


def test_no_proxy_unless_asked():
    assert proxier_module.for_agent(None, "n", "none") is None  # type: ignore[arg-type]


def test_navarch_agent_cleanup_removes_the_tables_in_its_namespace():
    with netns.namespaces("node") as (node,):
        ruleset = build([], NodeView("n1"))
        node.run(["nft", "-f", "-"], input=full_script(ruleset))
        node.run(["nft", "-f", "-"], input="table inet navarch-policy {}\n")
        listed = node.run(["nft", "list", "tables"]).stdout
        assert "navarch-proxy" in listed and "navarch-policy" in listed
        for _ in range(2):  # a second time: nothing to remove, still fine
            done = node.run(
                [sys.executable, "-m", "navarch.cli.navarch", "agent", "--cleanup"], check=False
            )
            assert done.returncode == 0, done.stderr
            listed = node.run(["nft", "list", "tables"]).stdout
            assert "navarch-proxy" not in listed and "navarch-policy" not in listed
